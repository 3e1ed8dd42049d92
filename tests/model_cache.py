"""The Models API's list as tests arrange it: its cache made older, and a catalogue whose
fetches are counted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from claudechat.model_catalogue import Catalogue
from claudechat.models import ModelInfo
from claudechat.settings import load_settings


def age_models_cache(home: Path, minutes: int) -> None:
    path = home / "models.json"
    cached = json.loads(path.read_text())
    fetched = datetime.fromisoformat(cached["fetched_at"]) - timedelta(minutes=minutes)
    path.write_text(json.dumps({**cached, "fetched_at": fetched.isoformat()}))


def counting_catalogue(models: list[ModelInfo]) -> tuple[Catalogue, list[int]]:
    fetches: list[int] = []

    def fetch() -> list[ModelInfo]:
        fetches.append(1)
        return models

    return Catalogue(load_settings(), fetch), fetches
