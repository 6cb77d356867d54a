"""A no-op endpoint, mounted only in the benchmark's app: the HTTP baseline for `/SendEvent`."""

from fastapi import APIRouter, Request, Response

from apps.api.body import check_content_type, read_body
from apps.contract.models import MAX_BODY_BYTES

router = APIRouter(tags=["benchmark"])


@router.put("/bench/noop", status_code=202, summary="Read the body and answer like /SendEvent")
async def noop(request: Request) -> Response:
    check_content_type(request.headers.get("content-type"))
    await read_body(request, MAX_BODY_BYTES)
    return Response(b'{"accepted":1}', 202, media_type="application/json")
