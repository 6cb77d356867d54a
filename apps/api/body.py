"""Reading and validating a request body against the contract, within the size limit."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from apps.api.errors import body_too_large, invalid_records, not_json

T = TypeVar("T")
MAX_REPORTED_ERRORS = 100  # a body of 1000 bad records must not produce a 10 MB answer


def check_content_type(header: str | None) -> None:
    media_type, _, params = (header or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise not_json(f"Content-Type is {header!r}, expected 'application/json'")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise not_json(f"charset {value.strip()!r} is not UTF-8")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():  # the declared length may be absent (chunked)
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def field_path(loc: tuple[int | str, ...]) -> str:
    """("body", 0, "Products", 1, "ItemCount") -> "body[0].Products[1].ItemCount"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def field_errors(error: ValidationError) -> list[dict]:
    return [
        {"field": field_path(("body", *e["loc"])), "loc": ["body", *e["loc"]],
         "type": e["type"], "msg": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)[:MAX_REPORTED_ERRORS]
    ]


def record_count(body: bytes) -> int:
    """How many records a refused body held (for the metrics): an array's length, else 1."""
    try:
        value = from_json(body)
    except ValueError:
        return 1
    return len(value) if isinstance(value, list) and value else 1


def validate(adapter: TypeAdapter[T], body: bytes) -> T:
    """The body as contract records; 415 if it is not JSON, 422 naming each bad field."""
    try:
        return adapter.validate_json(body)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise not_json(errors[0]["msg"]) from None
        raise invalid_records(field_errors(error), record_count(body)) from None
