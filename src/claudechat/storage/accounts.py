"""Who may use `claudechat serve`, and which conversation each user is in, in the database.

Tokens are stored only as sha256 hashes: the token itself is shown once, when it is created.
The current conversation lives here rather than in the server's memory, so any worker or host
in front of the same database answers a user the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from claudechat.conversation import utc_now
from claudechat.errors import NotFoundError
from claudechat.storage import ids
from claudechat.storage.metadata import MetadataStore, _as_utc, database_errors

TOKEN_PREFIX = "cct_"


@dataclass
class TokenInfo:
    token_id: str
    user_id: str
    created_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Tokens:
    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def create(self, user_id: str) -> tuple[TokenInfo, str]:
        """A new token for the user: its public id and the secret, which is never stored."""
        from claudechat.storage.schema import api_tokens

        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(6), ids.user_id(user_id), utc_now())
        values = {**info.__dict__, "token_hash": token_hash(token)}
        with self.metadata.writing() as connection:
            connection.execute(api_tokens.insert().values(**values))
        return info, token

    def user_for(self, token: str) -> str | None:
        from claudechat.storage import prepared

        parameters = {"token_hash": token_hash(token)}
        with database_errors(self.metadata.url), self.metadata.engine.connect() as connection:
            return connection.execute(prepared.token_user(), parameters).scalar()

    def list(self) -> list[TokenInfo]:
        from sqlalchemy import select

        from claudechat.storage.schema import api_tokens

        table = api_tokens.c
        statement = select(table.token_id, table.user_id, table.created_at).order_by(
            table.user_id, table.created_at
        )
        with database_errors(self.metadata.url), self.metadata.engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [TokenInfo(row[0], row[1], _as_utc(row[2])) for row in rows]

    def revoke(self, token_id: str) -> bool:
        """The token's row deleted; False when running servers could not be told at once."""
        from claudechat.storage.checked_tokens import mark_revoked
        from claudechat.storage.schema import api_tokens

        statement = api_tokens.delete().where(api_tokens.c.token_id == token_id)
        with self.metadata.writing() as connection:
            if connection.execute(statement).rowcount != 1:
                raise NotFoundError(f"no token {ids.printable(token_id)}")
        return mark_revoked(self.metadata)


class CurrentConversations:
    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def get(self, user_id: str) -> str | None:
        from claudechat.storage import prepared

        statement, parameters = prepared.current_conversation(), {"user_id": user_id}
        with database_errors(self.metadata.url), self.metadata.engine.connect() as connection:
            return connection.execute(statement, parameters).scalar()

    def claim(self, user_id: str, conversation_id: str) -> str:
        """The user's current conversation, `conversation_id` if there was none: requests
        racing to start one all continue the one that got there first."""
        from sqlalchemy.exc import IntegrityError

        from claudechat.storage.schema import current_conversations as table

        values = {"user_id": user_id, "conversation_id": conversation_id, "updated_at": utc_now()}
        try:
            with self.metadata.writing() as connection:
                connection.execute(table.insert().values(**values))
        except IntegrityError:
            return self.get(user_id) or conversation_id
        return conversation_id

    def set(self, user_id: str, conversation_id: str) -> None:
        from sqlalchemy.exc import IntegrityError

        from claudechat.storage.schema import current_conversations as table

        values = {"conversation_id": conversation_id, "updated_at": utc_now()}
        update = table.update().where(table.c.user_id == user_id).values(**values)
        with self.metadata.writing() as connection:
            if connection.execute(update).rowcount == 1:
                return
        try:
            with self.metadata.writing() as connection:
                connection.execute(table.insert().values(user_id=user_id, **values))
        except IntegrityError:  # another worker inserted it meanwhile: last one wins
            with self.metadata.writing() as connection:
                connection.execute(update)
