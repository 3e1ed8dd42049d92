"""Settings: command line over environment over config file; `claudechat config` says which."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from claudechat.secret_masking import mask_url_password
from claudechat.settings import load_settings


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_command_line_beats_environment_beats_file(isolated_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated_home, 'model = "from-file"\nprovider = "bedrock"\nuser = "filey"\n')
    monkeypatch.setenv("CLAUDECHAT_MODEL", "from-env")
    settings = load_settings({"model": "from-cli"})
    assert settings.model == "from-cli"
    assert settings.sources["model"] == "command line"
    assert settings.provider == "bedrock"
    assert settings.sources["provider"].startswith("config file")
    assert settings.user == "tester"  # CLAUDECHAT_USER from the test environment
    assert load_settings().model == "from-env"


def test_config_command_shows_sources_and_masks_secrets(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated_home, 'storage_url = "s3://team-bucket/chats"\n')
    url = "postgresql+psycopg2://chat:hunter2@db.internal:5432/chats"
    result = cli("config", env={"CLAUDECHAT_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    lines = dict(line.split(" = ", 1) for line in result.stdout.splitlines()[1:])
    assert lines["database_url"] == (
        '"postgresql+psycopg2://chat:***@db.internal:5432/chats"  '
        "# environment CLAUDECHAT_DATABASE_URL"
    )
    assert lines["storage_url"].startswith('"s3://team-bucket/chats"  # config file ')
    assert lines["model"] == '"claude-sonnet-4-6"  # default'


def test_a_readable_config_file_with_a_secret_warns(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    path = write_config(isolated_home, 'database_url = "postgresql://u:pw@h/db"\n', mode=0o644)
    result = cli("config")
    assert f"chmod 600 {path}" in result.stderr
    os.chmod(path, 0o600)
    assert "chmod" not in cli("config").stderr


def test_only_secret_looking_settings_are_called_secrets(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """Any name holding "key" was taken for a secret: `monkey = 1` warned to chmod 600."""
    write_config(isolated_home, 'monkey = 1\nbogus_key = 1\nturkey = "x"\n', mode=0o644)
    assert "chmod" not in cli("config").stderr
    write_config(isolated_home, 'anthropic_api_key = "sk-ant-x"\n', mode=0o644)
    assert "chmod 600" in cli("config").stderr


def test_a_misspelt_key_is_warned_of_with_the_name_it_may_mean(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """`databse_url` was "unknown key ignored" alone, where a misspelt variable is given the
    name it may mean: a team member's conversations went to local SQLite."""
    write_config(isolated_home, 'databse_url = "sqlite:////tmp/x.db"\nzzz = 1\n')
    said = cli("config").stderr
    assert "unknown key 'databse_url' ignored; did you mean database_url?" in said
    assert "unknown key 'zzz' ignored\n" in said  # nothing close


def test_a_config_file_that_is_a_fifo_is_refused_not_waited_on(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """Every command waited at its read of the config file for a writer that never came."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    os.mkfifo(isolated_home / "config.toml")
    result = cli("list", timeout=20)
    assert result.returncode == 2
    assert "is not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_a_config_file_linked_to_nothing_is_said(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """A dotfiles link whose file moved away dropped every setting without a word."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.toml").symlink_to(isolated_home / "moved.toml")
    shown = cli("config")
    assert shown.returncode == 0
    assert "config.toml is a link to" in shown.stderr and "which is gone" in shown.stderr


def test_invalid_settings_are_usage_errors(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated_home, "model = [\n")
    broken = cli("list")
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr
    write_config(isolated_home, 'provider = "openai"\n')
    wrong = cli("list")
    assert wrong.returncode == 2 and "unknown provider" in wrong.stderr


def test_a_provider_is_taken_in_any_case(isolated_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As --effort, -f and --by are: `--provider Bedrock` was an unknown provider."""
    monkeypatch.setenv("CLAUDECHAT_PROVIDER", "Bedrock")
    assert load_settings().provider == "bedrock"
    assert load_settings({"provider": " ANTHROPIC"}).provider == "anthropic"


def test_mask_url_password() -> None:
    assert mask_url_password("postgresql://a:b@h/d") == "postgresql://a:***@h/d"
    assert mask_url_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def config_lines(cli, **env: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    result = cli("config", env=env)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" = ", 1) for line in result.stdout.splitlines()[1:])


def test_config_shows_the_real_defaults(cli) -> None:  # type: ignore[no-untyped-def]
    lines = config_lines(cli)
    # Unset, the budget follows the model (/model shows it), not one number.
    assert (
        lines["# max_context_tokens"]
        == "(the model's input window minus its output limit)  # default"
    )
    assert lines["auto_migrate"] == "true  # default"
    assert lines["stream_idle_timeout"] == "60.0  # default"
    assert lines["# s3_sse"] == "(not set)  # default"
    assert "''" not in "".join(lines.values())


@pytest.mark.parametrize(
    "entry",
    [
        'input = "cheap"\noutput = 1',
        "input = 1",
        "input = -1\noutput = 1",
        'output = 1\ninput = 2\ncache_read = "x"',
    ],
)
def test_a_price_entry_that_is_not_prices_is_refused_at_once(cli, isolated_home, entry) -> None:  # type: ignore[no-untyped-def]
    """It was ignored without a word, and `models` went on showing the packaged price."""
    write_config(isolated_home, f'[prices."claude-sonnet-4-6"]\n{entry}\n')
    result = cli("config")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "prices.'claude-sonnet-4-6' needs input and output" in result.stderr


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('id = "anthropic.x"\nthinking = 3', "thinking must be a list of names"),
        ('id = "anthropic.x"\neffort = "high"', "effort must be a list of names"),
        ("id = 5", "id must be text"),
        ('id = "anthropic.x"\nmax_tokens = -5', "max_tokens must be a whole number above 0"),
        ('id = "anthropic.x"\nmax_input_tokens = "big"', "max_input_tokens must be a whole"),
        ('id = "anthropic.x"\nimage_input = "yes"', "image_input must be true or false"),
    ],
)
def test_a_bedrock_catalogue_entry_of_the_wrong_types_is_refused_at_once(  # type: ignore[no-untyped-def]
    cli, isolated_home, entry, problem
) -> None:
    """`models` and `chat -m x` gave a traceback, or read "high" as h,i,g,h. (A TOML date for
    created_at is fine: see the test below.)"""
    write_config(isolated_home, f"[bedrock_models.x]\n{entry}\n")
    for command in (["config"], ["models"], ["chat", "-m", "x", "hi"]):
        result = cli(*command, env={"CLAUDECHAT_PROVIDER": "bedrock", "AWS_REGION": "us-east-1"})
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"bedrock_models.'x': {problem}" in result.stderr


def test_a_bedrock_catalogue_entry_may_date_itself_in_toml(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    write_config(
        isolated_home,
        '[bedrock_models.x]\nid = "anthropic.x"\ncreated_at = 2026-03-01\nmax_tokens = 64000\n',
    )
    listed = cli("models", "--json", env={"CLAUDECHAT_PROVIDER": "bedrock"})
    assert listed.returncode == 0, listed.stderr
    assert "x" in [model["id"] for model in json.loads(listed.stdout)]


def test_an_empty_model_or_user_is_refused_not_taken_for_the_default(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    refused = cli("chat", "--model", "", "hi")
    assert refused.returncode == 2 and "command line: model is empty" in refused.stderr
    write_config(isolated_home, 'user = " "\n')
    result = cli("list")
    assert result.returncode == 2 and "user is empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_effort_is_refused_by_config_not_first_by_chat(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    refused = cli("config", env={"CLAUDECHAT_EFFORT": "ultra"})
    assert refused.returncode == 2 and "use one of low, medium, high" in refused.stderr
    assert config_lines(cli, CLAUDECHAT_EFFORT="high")["effort"].startswith('"high"')


def test_a_fractional_token_budget_is_refused(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated_home, "max_context_tokens = 1.5\n")
    result = cli("config")
    assert result.returncode == 2
    assert "max_context_tokens has an invalid value '1.5'" in result.stderr
    for bad in ("1.5", "1e5", "-3", "0", "true"):
        refused = cli("list", env={"CLAUDECHAT_MAX_CONTEXT_TOKENS": bad})
        assert refused.returncode == 2, bad
    write_config(isolated_home, "max_context_tokens = 9000\n")
    assert config_lines(cli)["max_context_tokens"].startswith("9000  # config file")
    taken = config_lines(cli, CLAUDECHAT_MAX_CONTEXT_TOKENS=" 12000 ")
    assert taken["max_context_tokens"].startswith("12000  # environment")


def test_every_database_password_form_is_masked_in_config(cli) -> None:  # type: ignore[no-untyped-def]
    for url, hidden in [
        ("postgresql://chat@db/chats?password=QUERY-SECRET&sslmode=require", "QUERY-SECRET"),
        ("postgresql://chat:SPACE SECRET@db/chats", "SPACE SECRET"),
        ("postgresql://chat:LINE\nSECRET@db/chats", "SECRET"),
        ("postgresql://chat:AT@SLASH/SECRET@db/chats", "SLASH/SECRET"),
    ]:
        result = cli("config", env={"CLAUDECHAT_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert hidden not in result.stdout + result.stderr, url
        assert "***" in result.stdout
    # Masked after it was quoted, a ?password= took in the closing quote.
    url = "postgresql://u:secretpw@127.0.0.1:1/db?password=zz"
    shown = cli("config", env={"CLAUDECHAT_DATABASE_URL": url}).stdout
    masked = 'database_url = "postgresql://u:***@127.0.0.1:1/db?password=***"  # environment'
    assert masked in shown, shown


def test_mask_url_password_forms() -> None:
    assert mask_url_password("postgresql://u@h/d?password=x y&a=b") == (
        "postgresql://u@h/d?password=***&a=b"
    )
    assert mask_url_password("http://k:s e\ncret@minio:9000/b") == "http://k:***@minio:9000/b"
    assert mask_url_password("postgresql://h:5432/db") == "postgresql://h:5432/db"
    assert mask_url_password("a http://u:p@x b postgresql://v:q@y c") == (
        "a http://u:***@x b postgresql://v:***@y c"
    )


def test_code_is_coloured_in_the_terminals_palette_unless_a_theme_is_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from claudechat.errors import ConfigError
    from claudechat.render import MarkdownStreamRenderer
    from renderkit import make_console

    reply = "Here:\n\n```python\ndef f(x: int) -> int:\n    return x + 1  # one more\n```\n"

    def written(theme: str) -> str:
        console = make_console("256")
        with MarkdownStreamRenderer(console, auto_refresh=False, code_theme=theme) as renderer:
            renderer.feed(reply)
        return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]

    monkeypatch.delenv("CLAUDECHAT_CODE_THEME", raising=False)
    default = load_settings().code_theme
    assert default == "ansi_dark"
    # The terminal's own colours (30-37, 90-97): short codes, and right on light or dark.
    assert "38;5;" not in written(default) and "\x1b[0;94m" in written(default)
    monkeypatch.setenv("CLAUDECHAT_CODE_THEME", "monokai")
    assert "38;5;" in written(load_settings().code_theme)  # a pygments style, as named
    monkeypatch.setenv("CLAUDECHAT_CODE_THEME", "no-such-theme")
    with pytest.raises(ConfigError, match="unknown code_theme 'no-such-theme'"):
        load_settings().code_theme  # noqa: B018


def test_store_timeout_takes_fractions(cli, isolated_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert config_lines(cli)["store_timeout"] == "5.0  # default"
    taken = config_lines(cli, CLAUDECHAT_STORE_TIMEOUT="0.5")
    assert taken["store_timeout"].startswith("0.5  # environment")
    for bad in ("0", "-1", "soon", "nan"):
        refused = cli("list", env={"CLAUDECHAT_STORE_TIMEOUT": bad})
        assert refused.returncode == 2, bad
        assert "store_timeout has an invalid value" in refused.stderr
    from claudechat.storage import open_store

    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", "0.25")
    assert open_store(load_settings()).guard.timeout == 0.25  # what every store call is given


def test_a_misspelt_variable_is_warned_of_with_the_name_it_may_mean(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """CLAUDECHAT_DATABSE_URL was ignored without a word: conversations went to local SQLite."""
    result = cli(
        "config",
        env={"CLAUDECHAT_DATABSE_URL": "postgresql://x@127.0.0.1:1/x", "CLAUDECHAT_ZZZ": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (
        "environment: unknown variable 'CLAUDECHAT_DATABSE_URL' ignored; did you mean "
        "CLAUDECHAT_DATABASE_URL?"
    ) in result.stderr
    assert "unknown variable 'CLAUDECHAT_ZZZ' ignored\n" in result.stderr  # nothing close
    # Commands that read their settings apart said nothing of it (models, token).
    for command in (("models", "--json"), ("token", "list")):
        said = cli(*command, env={"CLAUDECHAT_DATABSE_URL": "sqlite:////tmp/x.db"}).stderr
        assert "unknown variable 'CLAUDECHAT_DATABSE_URL'" in said, command
    # Every variable the program or its tests read is known: none of them warns.
    known = {
        "CLAUDECHAT_CONFIG": str(write_config(isolated_home, "")),
        "CLAUDECHAT_SERVE_OPTIONS": "{}",
        "CLAUDECHAT_TEST_FRESH_PROCESSES": "1",
        "CLAUDECHAT_PG_BIN": "/usr/lib/postgresql/15/bin",
        "CLAUDECHAT_PG_TMPDIR": "/tmp",
        "CLAUDECHAT_MODEL": "claude-opus-4-6",
        "CLAUDECHAT_STORE_TIMEOUT": "5",
    }
    assert "warning" not in cli("config", env=known).stderr
    # ... and so is every name the program itself reads: one it did not list would warn.
    from claudechat.settings import KEYS, OTHER_VARIABLES

    source = Path(__file__).parents[1] / "src" / "claudechat"
    named = {
        name
        for path in source.rglob("*.py")
        for name in re.findall(r"(?<![A-Z_])CLAUDECHAT_[A-Z0-9_]*[A-Z0-9]", path.read_text())
    }
    named.discard("CLAUDECHAT_DATABSE_URL")  # the misspelling a docstring quotes
    assert named <= {key.env for key in KEYS} | set(OTHER_VARIABLES), named


def test_an_unusable_login_name_says_where_it_came_from_and_how_to_choose_another(cli) -> None:  # type: ignore[no-untyped-def]
    """'invalid user id' alone, on every command: the user never chose that name."""
    login = {"CLAUDECHAT_USER": "", "LOGNAME": "CORP\\jsmith"}  # empty: unset
    for command in ("list", "config"):
        result = cli(command, env=login)
        assert result.returncode == 2 and result.stdout == ""
        line = result.stderr.strip()
        assert line.startswith("claudechat: your login name"), line
        assert "CORP" in line and 'CLAUDECHAT_USER or user = "..." in the config file' in line
    named = cli("list", env={"CLAUDECHAT_USER": "a/b"})
    assert named.returncode == 2
    assert "environment CLAUDECHAT_USER: invalid user id 'a/b'" in named.stderr
    assert cli("list", env={"CLAUDECHAT_USER": "", "LOGNAME": "jsmith"}).returncode == 0


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("CLAUDECHAT_STORAGE_URL", "gs://bucket/x", "use file:///path or s3://bucket/prefix"),
        ("CLAUDECHAT_STORAGE_URL", "s3:///x", "names no bucket: use s3://bucket/prefix"),
        ("CLAUDECHAT_DATABASE_URL", "mysql://x/y", "use sqlite:////absolute/path.db or"),
        ("CLAUDECHAT_PROVIDER", "openai", "use one of anthropic, bedrock"),
        ("CLAUDECHAT_AUTO_MIGRATE", "maybe", "'maybe': use true or false"),
        ("CLAUDECHAT_STORE_TIMEOUT", "fast", "'fast': use seconds above 0"),
        ("CLAUDECHAT_MAX_CONTEXT_TOKENS", "0", "'0': use a whole number above 0"),
    ],
)
def test_a_setting_refused_says_where_it_came_from_and_what_is_taken(  # type: ignore[no-untyped-def]
    cli, variable, value, said
) -> None:
    """ "unsupported storage URL" named no variable; "has an invalid value" no accepted form."""
    result = cli("list", env={variable: value})
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"claudechat: environment {variable}: "), line
    assert said in line and len(result.stderr.splitlines()) == 1


def test_an_unknown_code_theme_is_refused_by_every_command_at_start(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """`config` showed code_theme = 'nope' without a word; only `chat` refused it, later."""
    write_config(isolated_home, 'code_theme = "nope"\n')
    for command in ("config", "list"):
        result = cli(command)
        assert result.returncode == 2 and result.stdout == ""
        assert "config file" in result.stderr and "unknown code_theme 'nope'" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    write_config(isolated_home, 'code_theme = "monokai"\n')
    assert config_lines(cli)["code_theme"].startswith('"monokai"  # config file')


def test_config_on_bedrock_shows_the_region_in_use_and_where_it_came_from(  # type: ignore[no-untyped-def]
    cli, isolated_home, tmp_path
) -> None:
    """It said `aws_region = (not set)` while AWS_REGION, or the AWS profile's region, was
    the one Bedrock used."""
    bedrock = {"CLAUDECHAT_PROVIDER": "bedrock"}

    def region_row(env: dict[str, str]) -> str:
        result = cli("config", env={**bedrock, **env})
        assert result.returncode == 0, result.stderr
        return dict(line.split(" = ", 1) for line in result.stdout.splitlines()[1:])["aws_region"]

    assert region_row({"AWS_REGION": "eu-west-1"}) == '"eu-west-1"  # environment AWS_REGION'
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile team]\nregion = ap-southeast-2\n")
    from_profile = {"AWS_CONFIG_FILE": str(aws_config), "AWS_PROFILE": "team"}
    assert region_row(from_profile) == "\"ap-southeast-2\"  # AWS profile 'team'"
    assert region_row({**from_profile, "CLAUDECHAT_AWS_REGION": "us-west-2"}) == (
        '"us-west-2"  # environment CLAUDECHAT_AWS_REGION'
    )
