"""Request dependencies: the app's settings and its Kafka publisher."""

from typing import Annotated

from fastapi import Depends, Request

from apps.api.publisher import KafkaPublisher
from apps.settings import Settings


# async: FastAPI would run a plain function in a worker thread, a needless hop per request.
async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_publisher(request: Request) -> KafkaPublisher:
    return request.app.state.publisher


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
PublisherDep = Annotated[KafkaPublisher, Depends(get_publisher)]
