"""Liveness and Kafka readiness, and the Prometheus metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.api.deps import PublisherDep, SettingsDep

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Alive, and ready when Kafka is connected",
            responses={503: {"description": "Alive, but Kafka is not reachable"}})
async def health(publisher: PublisherDep, settings: SettingsDep) -> JSONResponse:
    ready, detail = publisher.readiness()
    return JSONResponse({
        "status": "ok" if ready else "unavailable",
        "live": True,
        "kafka": {"ready": ready, "detail": detail,
                  "bootstrap_servers": settings.kafka_bootstrap_servers},
    }, 200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
