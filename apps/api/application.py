"""The ingestion API's FastAPI application, built from settings and a publisher."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from apps.api import openapi
from apps.api.errors import ApiError, handle_api_error
from apps.api.publisher import KafkaPublisher
from apps.api.routes import bench, health, ingest
from apps.settings import Settings

DESCRIPTION = """Every record that enters shopstream comes through here. A record answered
202 is in Kafka (acks=all); a 503 claims nothing and asks the client to retry. The records'
contract is published as JSON Schema in `docs/contract/`."""

YOUNG_GC_THRESHOLD = 20_000  # net new tracked objects between the collector's young passes


def create_app(settings: Settings, publisher: KafkaPublisher | None = None, *,
               with_bench: bool = False) -> FastAPI:
    if publisher is None:
        publisher = KafkaPublisher(
            settings.kafka_servers, settings.api_kafka_ack_timeout,
            (settings.kafka_user_events_topic, settings.kafka_purchases_topic))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await publisher.start()
        # What start-up loaded (modules, schemas, the app) lives as long as the process:
        # frozen, it leaves the collector's full passes, which otherwise stall every request
        # in flight for tens of milliseconds (the API's p99 under load).
        gc.freeze()
        # A request waiting for its acks keeps its objects (its coroutines through the
        # middleware) while others allocate theirs: at the default threshold of 700 the
        # collector ran every 10 requests under load (1,100 passes per 10,000 /SendEvent)
        # and freed nothing, since requests' objects go by reference counting.
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *thresholds[1:])
        yield
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        await publisher.stop()

    # The docs pages serve Swagger UI and ReDoc from the package, not a CDN: they work offline.
    app = FastAPIOffline(title="shopstream ingestion API", version="1.0",
                         description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.publisher = publisher
    app.include_router(ingest.router)
    app.include_router(health.router)
    if with_bench:
        app.include_router(bench.router)
    app.add_exception_handler(ApiError, handle_api_error)
    openapi.install(app)
    return app
