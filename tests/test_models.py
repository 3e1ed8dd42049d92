"""Models from the Models API through the real program: listed, cached a day, the default
chosen from them, limits and prices applied; Bedrock's packaged catalogue, extendable. How
one catalogue fetches the list: test_model_catalogue.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claudechat.claude import Claude
from claudechat.errors import ApiError
from claudechat.models import ModelInfo
from claudechat.pricing import price_for, price_table
from claudechat.settings import load_settings
from conftest import conversation_id
from fakes.anthropic_api import Reply
from fakes.models_catalogue import model_entry
from model_cache import age_models_cache, counting_catalogue


def test_models_lists_every_page_and_is_cached_a_day(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.models += [
        model_entry(f"claude-extra-{i:03}", f"Extra {i}", f"2024-01-01T00:00:{i:03}Z")
        for i in range(120)
    ]
    listed = cli("models", "--json")
    assert listed.returncode == 0, listed.stderr
    models = json.loads(listed.stdout)
    assert len(models) == 124  # two pages of 100
    assert len(fake_api.model_requests) == 2 and "after_id=" in fake_api.model_requests[1]
    sonnet = next(m for m in models if m["id"] == "claude-sonnet-4-6")
    assert sonnet == {
        "id": "claude-sonnet-4-6",
        "display_name": "Claude Sonnet 4.6",
        "context_window": 1_000_000,
        "output_limit": 64_000,
        "thinking": ["adaptive", "enabled"],
        "effort": ["low", "medium", "high", "max"],
        "price_in": 3.0,
        "price_out": 15.0,
    }
    haiku_json = next(m for m in models if m["id"] == "claude-haiku-4-5")
    assert (haiku_json["thinking"], haiku_json["effort"]) == ([], [])  # none: empty, not "-"
    piped = cli("models")
    haiku = next(line for line in piped.stdout.splitlines() if line.startswith("claude-haiku"))
    assert haiku.split("\t") == [
        "claude-haiku-4-5", "Claude Haiku 4.5", "200000", "64000", "-", "-", "1.00", "5.00"
    ]  # fmt: skip
    # Quick commands and a fresh cache never call the API; --refresh does.
    for args in (("models",), ("list",), ("--help",), ("config",)):
        assert cli(*args).returncode == 0
    assert len(fake_api.model_requests) == 2
    assert cli("models", "--refresh").returncode == 0
    assert len(fake_api.model_requests) == 4


def test_default_model_is_the_newest_sonnet_and_overrides_win(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert "claude-sonnet-4-6" in cli("config").stdout  # no cache yet: the packaged fallback
    newest = model_entry("claude-sonnet-5", "Claude Sonnet 5", "2026-09-01T00:00:00Z")
    fake_api.models.append(newest)
    assert cli("models").returncode == 0
    assert 'model = "claude-sonnet-5"  # default' in cli("config").stdout
    assert cli("chat", input="hi").returncode == 0
    assert fake_api.requests[-1].body["model"] == "claude-sonnet-5"
    assert cli("chat", input="hi", env={"CLAUDECHAT_MODEL": "claude-opus-4-6"}).returncode == 0
    assert fake_api.requests[-1].body["model"] == "claude-opus-4-6"
    (isolated_home / "config.toml").write_text('model = "claude-haiku-4-5"\n')
    assert cli("chat", input="hi").returncode == 0
    assert fake_api.requests[-1].body["model"] == "claude-haiku-4-5"
    assert cli("chat", "--model", "claude-sonnet-4-5", input="hi").returncode == 0
    assert fake_api.requests[-1].body["model"] == "claude-sonnet-4-5"


def test_a_model_with_a_large_output_limit_keeps_most_of_its_window_for_the_conversation(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home
) -> None:
    """Reserving the whole output limit left a model of 128,000 tokens out 72,000 of its
    200,000-token window: a 50,000-token message was refused. The reply keeps 32,000 of it, and
    a request asks for no more than its context leaves of the window."""
    fake_api.models.append(
        model_entry("claude-roomy", "Roomy", "2026-01-01T00:00:00Z", max_input_tokens=100_000,
                    max_tokens=64_000, thinking=(), effort=())
    )  # fmt: skip
    short = cli("chat", "--model", "claude-roomy", input="short")
    assert short.returncode == 0, short.stderr
    assert fake_api.requests[-1].body["max_tokens"] == 64_000  # the window has room for it all
    long = cli("chat", "--model", "claude-roomy", input="word " * 30_000)  # ~50,000 estimated
    assert long.returncode == 0, long.stderr  # over the old budget of 36,000
    asked = fake_api.requests[-1].body["max_tokens"]
    assert 32_000 < asked < 50_000, asked  # what the window leaves beside the context
    budget = cli("chat", "--model", "claude-roomy", input="word " * 45_000)  # ~75,000
    assert budget.returncode == 2
    assert "more than the context budget of 68,000" in budget.stderr  # 100,000 - 32,000


def test_limits_come_from_the_model_and_unknown_models_get_defaults(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home
) -> None:
    fake_api.models.append(
        model_entry("claude-tiny", "Tiny", "2026-01-01T00:00:00Z", max_input_tokens=3000,
                    max_tokens=1000, thinking=(), effort=())
    )  # fmt: skip
    too_big = cli("chat", "--model", "claude-tiny", input="word " * 1500)
    assert too_big.returncode == 2
    assert "more than the context budget of 2,000" in too_big.stderr  # 3,000 window - 1,000 out
    assert cli("chat", "--model", "claude-tiny", input="short").returncode == 0
    assert fake_api.requests[-1].body["max_tokens"] == 1000
    asked = len(fake_api.model_requests)
    age_models_cache(isolated_home, minutes=6)
    unknown = cli("chat", "--model", "claude-future-1", input="hi")
    assert unknown.returncode == 0, unknown.stderr
    assert len(fake_api.model_requests) == asked + 1  # a model the cache lacks refreshes it
    assert unknown.stderr.count("model claude-future-1 is not described by the Models API") == 1
    assert "conservative limits (200,000 tokens in, 8,192 out)" in unknown.stderr
    body = fake_api.requests[-1].body
    assert body["max_tokens"] == 8192 and "thinking" not in body
    # ... but not on every turn: a list fetched minutes ago is not asked for again.
    age_models_cache(isolated_home, minutes=4)
    again = cli("chat", "--continue", input="and again")
    assert again.returncode == 0, again.stderr
    assert len(fake_api.model_requests) == asked + 1
    assert fake_api.requests[-1].body["model"] == "claude-future-1"


def test_bedrock_catalogue_and_prices_extend_from_the_config_file(  # type: ignore[no-untyped-def]
    cli, fake_api, monkeypatch, isolated_home: Path
) -> None:
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("CLAUDECHAT_PROVIDER", "bedrock")
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").write_text(
        '[bedrock_models."claude-new"]\nid = "anthropic.claude-new-v1"\nmax_input_tokens = 500000\n'
        'max_tokens = 2000\nthinking = []\n\n[prices."claude-new"]\ninput = 10.0\noutput = 20.0\n'
    )
    fake_api.queue(Reply("ok", input_tokens=1000, output_tokens=100))
    result = cli("chat", "--model", "claude-new", input="hi")
    assert result.returncode == 0, result.stderr
    request = fake_api.requests[-1]
    assert request.path == "/model/eu.anthropic.claude-new-v1/invoke-with-response-stream"
    assert request.body["max_tokens"] == 2000 and "thinking" not in request.body
    cost = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)["cost"]
    assert cost["usd"] == 0.012  # 1,000 x $10 + 100 x $20 per million
    models = json.loads(cli("models", "--json").stdout)
    assert {"claude-new", "claude-sonnet-4-6"} <= {m["id"] for m in models}
    assert fake_api.model_requests == []


def test_an_alias_is_the_newest_dated_model_it_names(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """The Models API lists older models by dated ids only; the alias people type (the id
    without its date) was taken for an unknown model: conservative limits, no effort."""
    fake_api.models += [
        model_entry("claude-opus-4-5-20250901", "Claude Opus 4.5 (old)", "2025-09-01T00:00:00Z",
                    max_tokens=1_000, thinking=(), effort=()),
        model_entry("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01T00:00:00Z",
                    max_tokens=32_000, thinking=("enabled",), effort=("low", "medium", "high")),
    ]  # fmt: skip
    assert cli("models").returncode == 0
    asked = len(fake_api.model_requests)
    result = cli("chat", "--model", "claude-opus-4-5", "--effort", "high", input="hi")
    assert result.returncode == 0, result.stderr
    assert "not described" not in result.stderr and "no effort" not in result.stderr
    body = fake_api.requests[-1].body
    assert body["model"] == "claude-opus-4-5"  # sent as typed: the API knows its aliases
    assert body["max_tokens"] == 32_000 and body["output_config"] == {"effort": "high"}
    assert body["thinking"]["type"] == "enabled"
    # A known alias does not ask for the list again once it is minutes old.
    age_models_cache(isolated_home, minutes=6)
    assert cli("chat", "--continue", input="again").returncode == 0
    assert len(fake_api.model_requests) == asked


def test_a_stale_list_stands_in_when_the_models_api_fails(cli, fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """With the Models API failing and only a list older than a day, `models` failed (exit 3)
    and chat gave a model the list describes conservative limits; the error named the list
    "model '(models list)'"."""
    assert cli("models").returncode == 0
    age_models_cache(isolated_home, minutes=2 * 24 * 60)
    fake_api.models_refused = True
    listed = cli("models")
    assert listed.returncode == 0, listed.stderr
    assert "claude-opus-4-6" in listed.stdout
    assert "cannot list the models" in listed.stderr and "may be out of date" in listed.stderr
    assert "refused access to the list of models (403)" in listed.stderr
    assert "(models list)" not in listed.stderr
    refreshed = cli("models", "--refresh")  # printed nothing and failed, exit 3
    assert refreshed.returncode == 0 and refreshed.stdout == listed.stdout, refreshed.stderr
    assert refreshed.stderr.count("may be out of date") == 1, refreshed.stderr
    chat = cli("chat", "--model", "claude-opus-4-6", "--effort", "max", input="hi")
    assert chat.returncode == 0, chat.stderr
    assert "not described" not in chat.stderr and "may be out of date" in chat.stderr
    body = fake_api.requests[-1].body
    assert body["max_tokens"] == 128_000 and body["output_config"] == {"effort": "max"}
    # With no list at all, the failure stands.
    (isolated_home / "models.json").unlink()
    assert cli("models").returncode == 3


def test_a_model_that_can_think_is_not_said_unable_when_the_context_leaves_no_room() -> None:
    """Its max_tokens cut to what the context leaves of the window, a model with extended
    thinking was said to be one that "cannot think aloud"."""
    from claudechat.request import TurnOptions, request_params

    info = ModelInfo("claude-x", max_input_tokens=10_000, max_tokens=4_000, thinking=("enabled",))
    roomy = request_params(info, TurnOptions(thinking=True), context_tokens=1_000)
    assert roomy.body["thinking"] == {"type": "enabled", "budget_tokens": 1_024}
    full = request_params(info, TurnOptions(thinking=True), context_tokens=8_500)
    assert full.body["max_tokens"] == 1_500 and "thinking" not in full.body
    assert full.notices == [
        "the context leaves 1,500 tokens of the window for the reply, too few for thinking; "
        "it answers without"
    ]


DATED = [
    ("claude-opus-4-20250514", "2025-05-14"),
    ("claude-opus-4-1-20250805", "2025-08-05"),
    ("claude-opus-4-5-20251101", "2025-11-01"),
    ("claude-sonnet-4-20250514", "2025-05-14"),
    ("claude-3-7-sonnet-20250219", "2025-02-19"),
    ("claude-3-5-sonnet-20241022", "2024-10-22"),
    ("claude-3-5-haiku-20241022", "2024-10-22"),
    ("claude-3-opus-20240229", "2024-02-29"),
]


@pytest.mark.parametrize(
    ("alias", "dated"),
    [
        ("claude-opus-4-0", "claude-opus-4-20250514"),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514"),
        ("claude-opus-4-1", "claude-opus-4-1-20250805"),
        ("claude-opus-4-5", "claude-opus-4-5-20251101"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
        ("claude-3-opus-latest", "claude-3-opus-20240229"),
    ],
)
def test_each_alias_has_its_models_limits_and_price(isolated_home: Path, alias, dated) -> None:  # type: ignore[no-untyped-def]
    """Only a date was taken off: claude-opus-4-0 and claude-3-7-sonnet-latest got
    conservative limits; and /model and reply costs price the alias, by id prefix, as the
    model it names (claude-opus-4 is the 4.5 price, claude-opus-4-0 the 4.0 one)."""
    # A limit of its own for each model: ids of one length (3-5 and 3-7 Sonnet) told apart.
    limits = {model: (n + 1) * 1000 for n, (model, _day) in enumerate(DATED)}
    listed = [ModelInfo(i, created_at=day, max_tokens=limits[i]) for i, day in DATED]
    catalogue, _ = counting_catalogue(listed)
    described = catalogue.describe(alias)
    assert (described.known, described.id, described.max_tokens) == (True, alias, limits[dated])
    table = price_table()
    assert price_for(alias, table) is not None
    assert price_for(alias, table) == price_for(dated, table)


@pytest.mark.parametrize(
    "model", ["claude-opus-4", "claude-sonnet-4", "claude-opus-4-5-0", "claude-opus-4-latest"]
)
def test_an_id_without_its_date_that_is_no_alias_is_not_known(isolated_home: Path, model) -> None:  # type: ignore[no-untyped-def]
    """claude-opus-4 is no alias the API takes: it was taken for claude-opus-4-20250514."""
    listed = [ModelInfo(i, created_at=day) for i, day in DATED]
    catalogue, _ = counting_catalogue(listed)
    assert catalogue.describe(model).known is False


def test_a_slow_models_api_is_given_up_before_the_replys_own_timeout(  # type: ignore[no-untyped-def]
    fake_api, isolated_home, monkeypatch
) -> None:
    """The list was waited for as long as a silent reply is (stream_idle_timeout, 60 s): a
    first turn sat that long behind a slow Models API before it was even sent."""
    from claudechat import claude

    monkeypatch.setattr(claude, "MODELS_LIST_SECONDS", 0.5)  # 10 s, scaled down
    fake_api.models_silent_seconds = 3
    # Its own limit, no setting's: the idle timeout (60 s) is not what it waited.
    with pytest.raises(ApiError, match=r"did not answer within 0\.5 s$"):
        Claude(load_settings()).list_models()


def test_thinking_left_out_for_a_small_output_limit_blames_the_limit_not_the_context() -> None:
    from claudechat.request import TurnOptions, request_params

    info = ModelInfo("claude-x", max_input_tokens=10_000, max_tokens=4_000, thinking=("enabled",))
    small = request_params(info, TurnOptions(thinking=True, max_output_tokens=2_000), 100)
    assert small.notices == [
        "the output limit is 2,000 tokens, too few for thinking; it answers without"
    ]
