"""The S3 store under the lake: pyarrow's view of it, Spark's URLs, scratch prefixes."""

from __future__ import annotations

import pyarrow.fs as pafs

from apps.lake.files import S3Store
from apps.settings import Settings
from apps.stack.services.s3 import minio_client


def lake_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's view of the S3 store: what a reader that lists folders sees."""
    return pafs.S3FileSystem(
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        endpoint_override=settings.s3_host,
        scheme="https" if settings.s3_secure else "http",
        region="us-east-1",
    )


def s3_store(settings: Settings) -> S3Store:
    """The store as the stream's executors reach it (apps/lake/files.py)."""
    return S3Store(settings.s3_host, settings.s3_secure, settings.s3_access_key,
                   settings.s3_secret_key.get_secret_value(), settings.s3_bucket)


def s3a_url(settings: Settings, path: str) -> str:
    """`s3a://<bucket>/<path>`, as Spark reads it."""
    return f"s3a://{settings.s3_bucket}/{path}"


def remove_prefix(settings: Settings, prefix: str) -> int:
    """Delete every object under a scratch prefix (tests, benchmarks); returns how many."""
    from minio.deleteobjects import DeleteObject

    if not prefix.endswith("/") or prefix.strip("/") in ("", "raw", "quarantine"):
        raise ValueError(f"refusing to remove {prefix!r}: only a scratch prefix ending in '/'")
    client = minio_client(settings)
    keys = [o.object_name for o in client.list_objects(settings.s3_bucket, prefix, recursive=True)]
    errors = list(client.remove_objects(settings.s3_bucket, (DeleteObject(k) for k in keys)))
    if errors:
        raise RuntimeError(f"could not remove {len(errors)} objects under {prefix}: {errors[0]}")
    return len(keys)
