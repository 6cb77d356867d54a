"""The contract's published JSON Schemas (docs/contract/), generated from the models.

Regenerate after changing a model:  uv run python -m apps.contract.jsonschema
"""

from __future__ import annotations

import json
from pathlib import Path

from apps.contract.models import PURCHASED_ITEMS, Purchase, UserEvent
from apps.settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "docs" / "contract"


def schemas() -> dict[str, dict]:
    """File name -> JSON Schema: each record, and the body of `POST /PurchasedItems`."""
    purchased_items = PURCHASED_ITEMS.json_schema()
    purchased_items["title"] = "PurchasedItems"
    return {
        "UserEvent.schema.json": UserEvent.model_json_schema(),
        "Purchase.schema.json": Purchase.model_json_schema(),
        "PurchasedItems.schema.json": purchased_items,
    }


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas():
        print(path.relative_to(REPO_ROOT))
