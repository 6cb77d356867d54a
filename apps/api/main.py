"""The ASGI entry point: `uvicorn apps.api.main:app`."""

from fastapi import FastAPI

from apps.api.application import create_app
from apps.settings import get_settings

app = create_app(get_settings())


def bench_app() -> FastAPI:
    """The app plus `PUT /bench/noop` (`uvicorn --factory apps.api.main:bench_app`)."""
    return create_app(get_settings(), with_bench=True)
