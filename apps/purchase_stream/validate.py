"""Kafka values -> purchases or reasons, with the contract module itself.

The API validates with `Purchase`; so does the stream, record by record, inside
`mapInArrow`: a second copy of the rules in Spark SQL would drift, and records the API
accepted would land in quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
from pydantic import BaseModel, ValidationError
from pyspark.sql.types import ArrayType, DataType, DecimalType, StructType

from apps.contract.models import Purchase
from apps.purchase_stream.layout import LINEAGE, PURCHASE, REASON, VALIDATED_ARROW, VALUE


def error_reason(error: ValidationError) -> str:
    """Each broken rule with the field it names, e.g. `Products.0.ItemCount: Input should be
    greater than or equal to 1`; a value that is not JSON at all names `record`."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in error.errors()
    )


def spark_value(value: object, dtype: DataType) -> object:
    """A validated field as its Spark column holds it: money (a JSON number exact to the
    cent) as a Decimal of the column's scale, enums as their strings, nested alike."""
    if value is None:
        return None
    if isinstance(dtype, DecimalType):
        return Decimal(repr(value)).quantize(Decimal(1).scaleb(-dtype.scale))
    if isinstance(dtype, StructType):
        return spark_row(value, dtype)
    if isinstance(dtype, ArrayType):
        return [spark_value(v, dtype.elementType) for v in value]
    if isinstance(value, str):
        return str(value)  # an enum member is a str subclass: store its plain value
    return value


def spark_row(record: BaseModel, schema: StructType) -> dict:
    return {f.name: spark_value(getattr(record, f.name), f.dataType) for f in schema.fields}


def validate_value(value: bytes | None) -> tuple[dict | None, str | None]:
    """(the purchase's columns, None) for a valid record, else (None, why not)."""
    if value is None:
        return None, "record: the Kafka record has no value"
    try:
        purchase = Purchase.model_validate_json(value)
    except ValidationError as error:
        return None, error_reason(error)
    return spark_row(purchase, PURCHASE), None


def validate_batch(records: pa.RecordBatch) -> pa.RecordBatch:
    """A batch of Kafka records (value + lineage) -> a batch of `VALIDATED_ARROW` rows."""
    rows = []
    lineage = {name: records.column(name).to_pylist() for name in LINEAGE.names}
    for i, value in enumerate(records.column(VALUE).to_pylist()):
        purchase, reason = validate_value(value)
        row = {name: column[i] for name, column in lineage.items()}
        if purchase is None:  # only quarantined rows keep their raw bytes
            row.update({VALUE: value, REASON: reason})
        else:
            row.update(purchase)
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=VALIDATED_ARROW)


def validate_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The `mapInArrow` function: runs on the executors, one Kafka partition's records each."""
    for batch in batches:
        yield validate_batch(batch)
