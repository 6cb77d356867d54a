"""Refusals the API answers with: a status, a reason for the metrics, a JSON body."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from apps.api import metrics

RETRY_AFTER_S = 2


class ApiError(Exception):
    def __init__(self, status: int, reason: str, detail: object, *, rejected: int = 1,
                 headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.rejected = rejected
        self.headers = headers


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")


def not_json(why: str) -> ApiError:
    return ApiError(415, "not_json", f"the body must be UTF-8 JSON: {why}")


def invalid_records(errors: list[dict], records: int) -> ApiError:
    return ApiError(422, "invalid_record", errors, rejected=records)


# What a 503 can truthfully say: a record whose acknowledgement did not come in time (and,
# of a request of several, some records) may be in Kafka all the same.
NOT_ACKNOWLEDGED = ("Kafka did not acknowledge every record, so none is claimed; some may "
                    "already be in Kafka, and a retry (after Retry-After) can store them twice")


def kafka_unavailable(why: str, records: int) -> ApiError:
    return ApiError(503, "kafka_unavailable", f"{NOT_ACKNOWLEDGED}: {why}",
                    rejected=records, headers={"Retry-After": str(RETRY_AFTER_S)})


async def handle_api_error(request: Request, exc: ApiError) -> JSONResponse:
    metrics.REQUESTS.labels(request.url.path, exc.status).inc()
    metrics.RECORDS_REJECTED.labels(exc.reason).inc(exc.rejected)
    return JSONResponse({"error": exc.reason, "detail": exc.detail}, exc.status,
                        headers=exc.headers)
