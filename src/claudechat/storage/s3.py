"""Conversation documents in an S3 bucket (or any S3-compatible store)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from claudechat.errors import ConfigError, StorageError, StoreRefusedError
from claudechat.storage.blobs import (
    ANY,
    JSON,
    AnyVersion,
    BlobConflictError,
    BlobNotFoundError,
    Expectation,
)
from claudechat.storage.guard import waiting_on

if TYPE_CHECKING:
    from claudechat.settings import Settings

SSE_MODES = ("AES256", "aws:kms")


class S3BlobStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        sse: str | None = None,
        kms_key_id: str | None = None,
    ) -> None:
        if sse is not None and sse not in SSE_MODES:
            raise ConfigError(f"s3_sse must be one of {SSE_MODES}, not {sse!r}")
        if kms_key_id and sse != "aws:kms":
            raise ConfigError("s3_kms_key_id needs s3_sse = 'aws:kms'")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.sse = sse
        self.kms_key_id = kms_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        parsed = urlparse(settings.storage_url)
        if not parsed.netloc:
            source = settings.sources.get("storage_url", "default")
            raise ConfigError(
                f"{source}: storage URL {settings.storage_url!r} names no bucket: use "
                "s3://bucket/prefix"
            )
        return cls(
            make_client(settings.get("aws_profile") or None),
            parsed.netloc,
            parsed.path,
            settings.get("s3_sse"),
            settings.get("s3_kms_key_id"),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(
        self, key: str, data: bytes, expect: Expectation = ANY, content_type: str = JSON
    ) -> str:
        extra: dict[str, str] = {}
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        if expect is None:
            extra["IfNoneMatch"] = "*"
        elif not isinstance(expect, AnyVersion):
            extra["IfMatch"] = expect
        with self._errors(key, conditional=isinstance(expect, str)):
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
                **extra,
            )
        return str(response["ETag"])

    def get(self, key: str) -> bytes:
        return self.get_with_etag(key)[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            body: bytes = response["Body"].read()
            return body, str(response["ETag"])

    def get_location(self, location: str) -> tuple[bytes, str]:
        parsed = urlparse(location)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"not an S3 document location: {location!r}")
        with self._errors(parsed.path.lstrip("/")):
            response = self.client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
            body: bytes = response["Body"].read()
            return body, str(response["ETag"])

    def holds(self, location: str) -> bool:
        parsed = urlparse(location)
        return parsed.scheme == "s3" and parsed.netloc == self.bucket

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._errors(prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(keys)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextmanager
    def _errors(self, key: str, conditional: bool = False) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with waiting_on(lambda: f"S3 bucket {self.bucket!r}"):  # named if it hangs
                yield
        except ClientError as exc:
            error = self._client_error(exc, key)
            if conditional and isinstance(error, BlobNotFoundError):
                # IfMatch on an object that is gone: the expected version is not there either.
                error = BlobConflictError(f"{self.location(key)} was removed elsewhere")
            raise error from exc
        except BotoCoreError as exc:
            raise StorageError(
                f"cannot reach S3 for bucket {self.bucket!r}: {_masked(exc)}"
            ) from exc

    def _client_error(self, exc: Any, key: str) -> StorageError:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            return BlobConflictError(f"{self.location(key)} was changed by another writer")
        if not _said_as_s3(code, status):
            return self._not_s3(status, exc.response.get("Error", {}).get("Message", ""))
        if code in ("NoSuchKey", "NotFound"):
            return BlobNotFoundError(f"no document at {self.location(key)}")
        # Answers that waiting does not change: said as the configuration to fix.
        if code == "NoSuchBucket":
            return StoreRefusedError(
                f"the store refused the configuration: S3 bucket {self.bucket!r} does not "
                "exist (it is never created automatically: create it, or fix storage_url)"
            )
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StoreRefusedError(
                f"the store refused the configuration: access to S3 bucket {self.bucket!r} "
                f"denied ({code}): fix the AWS credentials or the bucket policy"
            )
        message = _masked(exc.response.get("Error", {}).get("Message", ""))
        return StorageError(f"S3 bucket {self.bucket!r} failed: {code} {message}".strip())

    def _not_s3(self, status: int | None, reason: str) -> StoreRefusedError:
        """A server that answered, without S3's error body: a web server, a proxy's page. It
        was taken for an outage (a chat exited 0, "pushed when the store is back") or, on a
        404, for a missing document, as if the store had answered."""
        endpoint = _masked(self.client.meta.endpoint_url)
        _, variable = custom_s3_endpoint()
        fix = variable.removeprefix("environment ") if variable != "default" else "storage_url"
        return StoreRefusedError(
            f"the store refused the configuration: the S3 endpoint {endpoint} answered "
            f"{_status_line(status, reason)}, not as S3 does: fix {fix}"
        )


# Statuses a gateway in front of a store says while the store itself is down or restarting.
GATEWAY_OUTAGES = (502, 503, 504)


def _said_as_s3(code: str, status: int | None) -> bool:
    """Whether an error answer came from S3 (or a store that speaks it): its body names an
    error code (NoSuchKey, SlowDown). botocore gives the bare HTTP status (or nothing) as the
    code where the body named none. A gateway's 502 to 504 are outages all the same."""
    if status in GATEWAY_OUTAGES:
        return True
    return bool(code) and not code.isdigit()


def _status_line(status: int | None, reason: str) -> str:
    """ "404 Not Found": botocore gives no reason where a web page parsed as XML."""
    from http import HTTPStatus

    if not reason and status is not None:
        with suppress(ValueError):
            reason = HTTPStatus(status).phrase
    return f"{status} {_masked(reason)}".rstrip()


def make_client(profile: str | None = None) -> Any:
    """The S3 client, with the aws_profile setting's credentials where one is set: S3 took
    AWS_PROFILE's (or the default) while Bedrock took the setting's. The region comes from the
    AWS chain, the profile's own included; aws_region is Bedrock's alone."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    # S3-compatible stores (MinIO, SeaweedFS, Ceph) behind a custom endpoint want path-style
    # addressing; boto3 itself reads the endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    custom_endpoint, _ = custom_s3_endpoint()
    config = Config(
        s3={"addressing_style": "path"} if custom_endpoint else {},
        # An unreachable store must not stall a chat for long: the turn goes to the journal.
        # (The store's own deadline, guard.py, bounds what these cannot: e.g. a slow body.)
        retries={"total_max_attempts": 2, "mode": "standard"},
        connect_timeout=2,
        read_timeout=4,
    )
    try:
        session = boto3.Session(profile_name=profile)
        # Resolved now, not at the first request: without credentials every save was taken
        # for an outage ("saved locally ... when the store is back"), exit 0. The client
        # uses these very credentials: nothing is resolved twice.
        if session.get_credentials() is None:
            raise ConfigError(
                "no AWS credentials for the S3 store: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (or aws_profile), or run where an "
                "instance role applies"
            )
        return session.client("s3", config=config)
    except (BotoCoreError, ValueError) as exc:  # a missing profile, a malformed endpoint
        raise ConfigError(f"cannot set up the S3 client: {_masked(exc)}") from exc


def custom_s3_endpoint() -> tuple[str | None, str]:
    """The endpoint boto3 sends S3 requests to in place of AWS's own, and the variable that
    names it (the S3 one first, as boto3 takes them), or None."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return os.environ[name], f"environment {name}"
    return None, "default"


def _masked(error: object) -> str:
    """botocore quotes the endpoint URL, and a custom endpoint may carry credentials."""
    from claudechat.settings import mask_url_password

    return mask_url_password(str(error))
