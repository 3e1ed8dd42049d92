"""The fake Models API's catalogue: entries shaped as GET /v1/models returns them."""

from __future__ import annotations

import copy
from typing import Any

LEVELS = ("low", "medium", "high", "xhigh", "max")


def model_entry(
    model_id: str,
    display_name: str,
    created_at: str,
    *,
    max_input_tokens: int = 200_000,
    max_tokens: int = 64_000,
    thinking: tuple[str, ...] = ("adaptive", "enabled"),
    effort: tuple[str, ...] = ("low", "medium", "high", "max"),
    images: bool = True,
) -> dict[str, Any]:
    line = next((name for name in ("haiku", "sonnet", "opus") if name in model_id), None)
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": created_at,
        "lifecycle": "active",
        "line": line,
        "max_input_tokens": max_input_tokens,
        "max_tokens": max_tokens,
        "capabilities": {
            "thinking": {
                "supported": bool(thinking),
                "types": {
                    kind: {"supported": kind in thinking}
                    for kind in ("adaptive", "enabled", "disabled")
                },
            },
            "effort": {
                "supported": bool(effort),
                **{level: {"supported": level in effort} for level in LEVELS},
            },
            "image_input": {"supported": images},
            "pdf_input": {"supported": True},
            "citations": {"supported": True},
        },
    }


DEFAULT_MODELS = [
    model_entry("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", max_tokens=128_000),
    model_entry(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", max_input_tokens=1_000_000
    ),
    model_entry(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        thinking=("enabled",),
        effort=(),
    ),
    model_entry(
        "claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z", thinking=(), effort=()
    ),
]


def default_models() -> list[dict[str, Any]]:
    return copy.deepcopy(DEFAULT_MODELS)


def refused_parameter(model: dict[str, Any] | None, body: dict[str, Any]) -> str | None:
    """What the real API answers 400 for: a thinking type, effort level or max_tokens the
    model does not have. None when the request is acceptable."""
    if model is None:
        return None
    capabilities = model["capabilities"]
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("adaptive", "enabled"):
        kind = thinking["type"]
        if not capabilities["thinking"]["types"][kind]["supported"]:
            return f"thinking.type: {kind!r} is not supported by {model['id']}"
        if kind == "enabled" and not 1024 <= thinking.get("budget_tokens", 0) < body["max_tokens"]:
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and not capabilities["effort"].get(effort, {}).get("supported"):
        return f"output_config.effort: {effort!r} is not supported by {model['id']}"
    if body.get("max_tokens", 0) > model["max_tokens"]:
        limit = model["max_tokens"]
        return f"max_tokens: {body['max_tokens']} > {limit}, the maximum for {model['id']}"
    return None


def page(models: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of GET /v1/models: newest first, `limit` and `after_id` as the API takes them."""
    ordered = sorted(models, key=lambda m: m["created_at"], reverse=True)
    limit = int((query.get("limit") or ["20"])[0])
    after = (query.get("after_id") or [None])[0]
    if after is not None:
        ids = [m["id"] for m in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    data = ordered[:limit]
    return {
        "data": data,
        "has_more": len(ordered) > limit,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
