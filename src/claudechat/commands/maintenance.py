"""Commands that look after the store itself: config, sync, doctor, db upgrade."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from claudechat.commands import opening
from claudechat.errors import NotFoundError, StorageError
from claudechat.output import counted

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.repair import DoctorReport
    from claudechat.storage.store import ConversationStore


def config() -> None:
    """Print the effective settings and where each comes from (secrets masked)."""
    from urllib.parse import urlparse

    from claudechat.output import one_line
    from claudechat.settings import config_path

    settings = opening.settings()
    rows = settings.effective()  # a value that cannot work (a user name) refused before a line
    # The path (and the sources naming it) as one safe line: a CLAUDECHAT_CONFIG holding a line
    # break or an escape was printed raw, acted on by the terminal, and broke the TOML.
    print(f"# config file: {one_line(str(config_path()))}")
    rows = [_profile_in_use(row) if row[0] == "aws_profile" else row for row in rows]
    if settings.provider == "bedrock":
        rows = [_region_in_use(settings) if row[0] == "aws_region" else row for row in rows]
    for key, value, source in rows:
        # A key not set shows what it stands for in brackets, which is no TOML value: as a
        # comment, the whole output still parses, and pasted into config.toml sets nothing.
        comment = "# " if value.startswith("(") else ""
        print(f"{comment}{key} = {value}  # {one_line(source)}")
        if key == "storage_url" and urlparse(settings.storage_url).scheme == "s3":
            print(_s3_endpoint_line(settings))


def _s3_endpoint_line(settings: Settings) -> str:
    """Where the bucket lives, as a comment (it is no setting of claudechat's): `config`
    showed storage_url alone, and an AWS_ENDPOINT_URL_S3 pointing elsewhere went unseen."""
    from botocore.exceptions import BotoCoreError

    from claudechat.claude_errors import short_error
    from claudechat.output import one_line
    from claudechat.secret_masking import mask_url_password
    from claudechat.setting_values import as_toml
    from claudechat.storage.s3 import custom_s3_endpoint

    endpoint, source = custom_s3_endpoint()
    if endpoint is None:
        try:
            endpoint, source = _profile_s3_endpoint(settings)
        except BotoCoreError as exc:  # a profile that does not exist: the store says so
            problem = one_line(short_error(exc))
            return f"# S3 endpoint = (unknown)  # the AWS config cannot be read: {problem}"
    shown = (
        "(AWS's own, for the region)" if endpoint is None else as_toml(mask_url_password(endpoint))
    )
    return f"# S3 endpoint = {shown}  # {one_line(source)}"


def _profile_s3_endpoint(settings: Settings) -> tuple[str | None, str]:
    """The endpoint the AWS profile gives S3 (its endpoint_url, or its services section's
    `s3 = endpoint_url = ...`), read by botocore as boto3 reads it: `config` said "AWS's
    own" while the bucket was reached at the profile's."""
    import botocore.session
    from botocore.configprovider import ConfiguredEndpointProvider

    session = botocore.session.Session(profile=settings.get("aws_profile") or None)
    profile = f"AWS profile {session.profile or 'default'!r}"
    scoped = session.get_scoped_config()
    # The variables are custom_s3_endpoint's, already looked at: the profile's alone here.
    found = ConfiguredEndpointProvider(session.full_config, scoped, "s3", environ={}).provide()
    if not found:
        return None, "default"
    if "services" in scoped and found != scoped.get("endpoint_url"):
        return found, f"{profile}, services section {scoped['services']!r}"
    return found, profile


def _profile_in_use(row: tuple[str, str, str]) -> tuple[str, str, str]:
    """The AWS profile the SDK takes when no setting names one: the row said "(not set)" while
    AWS_PROFILE was in use, and the region row named that profile as the region's source."""
    import os

    from claudechat.setting_values import as_toml

    if row[2] != "default":
        return row
    for name in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):  # botocore's order
        if os.environ.get(name):
            return "aws_profile", as_toml(os.environ[name]), f"environment {name}"
    return row


def _region_in_use(settings: Settings) -> tuple[str, str, str]:
    """Bedrock's region as the SDK finds it, which may be AWS_REGION or the AWS profile's:
    the row said "(not set)" while a region was in use."""
    from botocore.exceptions import BotoCoreError

    from claudechat.claude_errors import short_error
    from claudechat.claude_setup import bedrock_region
    from claudechat.output import one_line
    from claudechat.setting_values import as_toml

    try:
        region, source = bedrock_region(settings)
    except BotoCoreError as exc:  # a profile that does not exist: chat says so in its words
        problem = one_line(short_error(exc))
        return "aws_region", "(not set)", f"the AWS config cannot be read: {problem}"
    return "aws_region", "(not set)" if region is None else as_toml(region), source


def sync() -> None:
    """Push conversations saved locally while the store was unreachable."""
    from claudechat.output import status

    settings = opening.settings()
    store = opening.store(settings)
    report = store.sync(settings.user)
    if report.error is None and not report.pushed:
        # Nothing to push asked nothing of the store: "pushed 0" read as all being well while
        # the database could not even be opened, or the blob store reached.
        report.error = store.list(settings.user, 1).error or _blob_store_error(store)
    for notice in report.notices():
        status(notice)
    if report.pushed or report.error is None:  # "pushed 0", then the error, read as a success
        status(f"pushed {counted(len(report.pushed), 'conversation')}")
    if report.left_to_live_writers:
        # "pushed 0" alone read as nothing waiting, while the list still marked some.
        status(
            f"others wait for {report.left_to_live_writers} claudechat process(es) still "
            "running: serve pushes them within seconds, a chat at its next save; after they "
            "end, any start or sync pushes the rest"
        )
    if report.error:
        raise report.error


def _blob_store_error(store: ConversationStore) -> StorageError | None:
    try:
        store.guarded(store.ping_blobs)
    except StorageError as exc:
        return exc
    return None


def doctor() -> None:
    """Check your documents against their metadata rows and repair what a crash left."""
    from claudechat.output import status
    from claudechat.storage import repair

    settings = opening.settings()
    store = opening.store(settings)
    opening.push_journal(store, settings)
    report = repair.doctor(store, settings.user)
    for label, found in _doctor_lines(report):
        for conversation_id in found:
            # Why it cannot be read; for one set aside, where it is now too.
            reason = found[conversation_id] if isinstance(found, dict) else None
            print(f"{conversation_id}\t{label}" + (f" ({reason})" if reason else ""))
    damage = (
        len(report.missing)
        + len(report.corrupt)
        + len(report.damaged_journal)
        + len(report.files_missing)
    )
    if damage:
        raise NotFoundError(_damage_line(report))
    repaired = (
        report.adopted
        or report.refreshed
        or report.relocated
        or report.restored
        or report.replaced
        or report.files_restored
    )
    status("repaired" if repaired else "documents and rows agree")


def _doctor_lines(report: DoctorReport) -> list[tuple[str, list[str] | dict[str, str]]]:
    """What doctor says of each conversation, by kind, in the order said."""
    return [
        ("document without a row: row re-created", report.adopted),
        ("row older than its document: row refreshed", report.refreshed),
        ("row naming where its document was before: location updated", report.relocated),
        (
            "row whose document was missing: restored from the copy kept on this machine, "
            "which may be older than the one lost",
            report.restored,
        ),
        ("row whose document is missing", report.missing),
        ("document that cannot be read, set aside", report.set_aside),
        (
            "document that could not be read: replaced by the copy kept on this machine, "
            "which may be older than the one set aside",
            report.replaced,
        ),
        ("document that cannot be read", {c: report.reasons[c] for c in report.corrupt}),
        ("journal entry that could not be used (moved aside)", report.damaged_journal),
        ("journal entry of a newer claudechat (kept; upgrade to push it)", report.newer_journal),
        ("attached file missing from the store: put back from this machine", report.files_restored),
        ("attached file missing from the store", report.files_missing),
    ]


def _damage_line(report: DoctorReport) -> str:
    return ", ".join(
        (
            f"{counted(len(report.missing), 'row')} without a document",
            counted(len(report.corrupt), "unreadable document"),
            counted(
                len(report.damaged_journal),
                "unreadable journal entry",
                "unreadable journal entries",
            ),
        )
    ) + (  # said only when some are: the line kept its form for the damage said before
        f", {counted(len(report.files_missing), 'conversation')} missing attached files"
        if report.files_missing
        else ""
    )


def db_upgrade() -> None:
    """Apply schema migrations to the configured database."""
    from claudechat.output import status
    from claudechat.storage.database_url import describe_database
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.migrate import HEAD_REVISION

    settings = opening.settings()
    metadata = MetadataStore(settings.database_url, auto_migrate=True)
    metadata.close()
    database = f"database {describe_database(settings.database_url)}"
    if metadata.found_at == HEAD_REVISION:
        status(f"{database} is up to date (schema {HEAD_REVISION})")
    else:  # it said "is up to date" after applying every migration too
        found = f"schema {metadata.found_at}" if metadata.found_at else "an empty database"
        status(f"{database} upgraded from {found} to schema {HEAD_REVISION}")


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    app.command()(config)
    app.command()(sync)
    app.command()(doctor)
    db_app.command("upgrade")(db_upgrade)
