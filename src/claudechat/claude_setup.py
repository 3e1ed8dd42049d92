"""What the adapter needs before its first request: credentials and a base URL that can work,
checked before any input is read, and Bedrock's model ids for the region's geography."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from claudechat.claude_errors import short_error
from claudechat.errors import UsageError

if TYPE_CHECKING:
    from claudechat.settings import Settings


def bedrock_model_id(
    model: str, region: str | None = None, settings: Settings | None = None
) -> str:
    """A short name of the packaged Bedrock catalogue (data/bedrock_models.toml, extendable in
    the config file) as a cross-region inference profile id for the region's geography. Any
    other id (a full profile id, an ARN) is used as given, the catalogue entry's own too."""
    from claudechat.models import bedrock_catalogue, inference_profile_prefix

    entry = bedrock_catalogue(settings).get(model)
    if entry is None or not entry.get("id"):
        return model
    if _is_full_bedrock_id(entry["id"]):
        return str(entry["id"])
    return f"{inference_profile_prefix(region or 'us-east-1')}.{entry['id']}"


def _is_full_bedrock_id(model_id: str) -> bool:
    """An ARN or an id that already has a profile prefix: a config file's entry whose id was
    one got a second prefix (us.arn:aws:..., us.global.anthropic...) Bedrock did not know."""
    from claudechat.models import has_profile_prefix

    return model_id.startswith("arn:") or has_profile_prefix(model_id)


def check_credentials(settings: Settings) -> None:
    """Fail fast, before any input is read, when the chosen provider cannot authenticate."""
    if settings.provider == "anthropic":
        check_base_url(os.environ.get("ANTHROPIC_BASE_URL"), "ANTHROPIC_BASE_URL")
    if settings.provider == "bedrock":
        _check_bedrock_setup(settings)
        return
    name = "ANTHROPIC_API_KEY" if os.environ.get("ANTHROPIC_API_KEY") else "ANTHROPIC_AUTH_TOKEN"
    key = os.environ.get(name)
    if not key:
        raise UsageError(
            "ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=sk-ant-... "
            "(create a key at https://console.anthropic.com/settings/keys)"
        )
    if any(character.isspace() or not character.isprintable() for character in key):
        # Sent as it is, it was refused as a header, and the error quoted it whole.
        raise UsageError(
            f"{name} holds a space, a line break or another invisible character "
            "(often a copied newline): set it to the key alone"
        )


def _check_bedrock_setup(settings: Settings) -> None:
    """A region and credentials, found as the SDK will look for them (no request is made):
    without them Bedrock failed only at the first message, once it was saved."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    # A Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) stands in for credentials: none needed.
    api_key = bool(os.environ.get("AWS_BEARER_TOKEN_BEDROCK"))
    try:
        session = botocore.session.Session(profile=settings.get("aws_profile"))
        region, _ = bedrock_region(settings, session)
        credentials = None if api_key else session.get_credentials()
    except BotoCoreError as exc:  # a profile that does not exist, a malformed file, ...
        raise UsageError(f"cannot set up Bedrock: {short_error(exc)}") from exc
    if not region:
        raise UsageError(
            "cannot set up Bedrock: no AWS region; set AWS_REGION, or aws_region in the config file"
        )
    if credentials is None and not api_key:
        raise UsageError(
            "no AWS credentials for Bedrock: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or run `aws sso login`)"
        )


def bedrock_region(settings: Settings, session: Any = None) -> tuple[str | None, str]:
    """The AWS region Bedrock's requests go to and where it was found, in the SDK's order: the
    setting, AWS_REGION, AWS_DEFAULT_REGION, then the AWS profile's own (botocore's error for
    a profile that does not exist, or a malformed file). `config` showed "(not set)" while
    one of the others was in use."""
    if region := configured_region(settings):
        return region, settings.sources["aws_region"]
    region, source = environment_region()
    if region:
        return region, source
    if session is None:
        import botocore.session

        session = botocore.session.Session(profile=settings.get("aws_profile"))
    # The profile's alone: botocore reads AWS_DEFAULT_REGION first, blank or not.
    region = (session.get_config_variable("region", methods=("config",)) or "").strip()
    if not region:
        return None, "default"
    return region, f"AWS profile {session.profile or 'default'!r}"


_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")  # the SDK's order


def environment_region() -> tuple[str | None, str]:
    """AWS_REGION's region, else AWS_DEFAULT_REGION's, and which; a blank one (AWS_REGION=" ")
    is not set, as a blank aws_region setting is not: requests were signed for " "."""
    for name in _REGION_VARIABLES:
        if region := os.environ.get(name, "").strip():
            return region, f"environment {name}"
    return None, "default"


def client_region(settings: Settings) -> str | None:
    """The region handed to the Bedrock SDK: None lets it find one itself, in config's order,
    unless a blank variable is what it would find (it takes AWS_REGION=" " as a region)."""
    region = configured_region(settings) or environment_region()[0]
    if region or not any(os.environ.get(name) for name in _REGION_VARIABLES):
        return region
    return bedrock_region(settings)[0]  # the profile's, the blank variables passed over


def configured_region(settings: Settings) -> str | None:
    """The aws_region setting, where it names one: an empty or blank one (`aws_region = ""`,
    CLAUDECHAT_AWS_REGION=" ") is not set. `config` showed the environment's region for it while
    requests were signed for the empty one (and sent to an invalid host)."""
    value = settings.get("aws_region")
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_base_url(url: str | None, name: str) -> None:
    """A malformed base URL is a configuration error, not an API that cannot be reached."""
    if url is None:
        return
    if not url:  # `export ANTHROPIC_BASE_URL=`: the SDK takes "" as the URL, and fails later
        raise UsageError(f"{name} is set but empty: unset it for Anthropic's API, or give a URL")
    if url != url.strip():  # checked stripped, but sent as it is: refused after the save
        raise UsageError(f"{name} has a space or line break around it: {url.strip()[:200]!r}")
    from urllib.parse import urlsplit

    from claudechat.secret_masking import mask_url_password

    try:
        parts = urlsplit(url.strip())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"{name} is not a valid URL: {mask_url_password(url)[:200]!r} "
            "(expected http(s)://host[:port][/path])"
        )
