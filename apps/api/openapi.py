"""OpenAPI documentation of the request bodies, taken from the contract models.

The ingestion routes read their bodies themselves (size limit, 415 for non-JSON, fast
validation), so FastAPI cannot infer the body schema: it is declared here instead.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from apps.contract.models import Purchase, UserEvent

REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel], *, array: tuple[int, int] | None = None) -> dict:
    """`openapi_extra` for a route whose body is `model` (or an array of min..max of it)."""
    schema: dict = {"$ref": REF.format(model=model.__name__)}
    [example] = model.model_config["json_schema_extra"]["examples"]
    if array:
        schema = {"type": "array", "items": schema, "minItems": array[0], "maxItems": array[1]}
        example = [example]
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema, "example": example}}}}


def install(app: FastAPI) -> None:
    """Add the contract's models to the generated document's components."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (UserEvent, Purchase):
                schema = model.model_json_schema(ref_template=REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
