"""`claudechat serve` and `claudechat token ...`: thin; the work is in claudechat.server."""

from __future__ import annotations

from typing import Annotated

import typer

from claudechat.server import (
    DEFAULT_BODY_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PUSH_QUIET_SECONDS,
)

token_app = typer.Typer(help="API tokens for `claudechat serve`.", rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(token_app, name="token")


def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port to listen on.", min=1, max=65535)
    ] = 5000,
    workers: Annotated[int, typer.Option(metavar="N", help="Worker processes.", min=1, max=64)] = 1,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No tokens: only on loopback, as the local user.")
    ] = False,
    max_body_bytes: Annotated[
        int, typer.Option(metavar="BYTES", help="Largest request body accepted.", min=1)
    ] = DEFAULT_MAX_BODY_BYTES,
    graceful_seconds: Annotated[
        int,
        typer.Option(
            metavar="SECONDS", help="On SIGTERM, seconds to wait for replies in flight.", min=0
        ),
    ] = 20,
    body_seconds: Annotated[
        float,
        typer.Option(
            metavar="SECONDS", help="Seconds a body may take to arrive (408 after).", min=0.1
        ),
    ] = DEFAULT_BODY_SECONDS,
    push_quiet_seconds: Annotated[
        float,
        typer.Option(
            "--push-after",
            metavar="SECONDS",
            help="On the embedded store: seconds a conversation rests before its turns go "
            "from the journal to the store (readers here see them at once). 0: at once.",
            min=0,
        ),
    ] = DEFAULT_PUSH_QUIET_SECONDS,
) -> None:
    """Serve the HTTP API: chat with Claude and read your conversations over HTTP.

    Every route: POST /chat, POST /new_chat, GET|POST /get_conversation, GET /conversations,
    DELETE /conversations/{id}; with no token, GET /health (database and blob store) and
    GET /openapi.json (every route with its errors, and /chat's events).
    """
    from claudechat.server import ServeOptions
    from claudechat.server.run import run

    options = (max_body_bytes, graceful_seconds, body_seconds, push_quiet_seconds)
    run(ServeOptions(host, port, workers, no_auth, *options))


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(metavar="USER", help="Whose token it is.")],
) -> None:
    """Create a token for USER and print it (it is shown this once; only a hash is kept)."""
    from claudechat.output import status
    from claudechat.server.run import tokens

    info, token = tokens().create(user)
    print(token)
    status(f"token {info.token_id} for {info.user_id}: copy it now, it is not shown again")


@token_app.command("list")
def token_list() -> None:
    """Every token's id, user and creation time (never the token)."""
    from claudechat.server.run import tokens

    for info in tokens().list():
        print(f"{info.token_id}\t{info.user_id}\t{info.created_at:%Y-%m-%d %H:%M}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="From `token list`.")],
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from claudechat.output import status
    from claudechat.server.run import tokens

    told = tokens().revoke(token_id)
    status(f"token {token_id} revoked")
    if not told:
        from claudechat.storage.checked_tokens import REVALIDATE_SECONDS

        status(
            "warning: the mark beside the database cannot be written: a running serve "
            f"accepts the token for up to {REVALIDATE_SECONDS:g} s more",
            "yellow",
        )
