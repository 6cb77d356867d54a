"""The Spark schema of a contract record, derived from the model (never written by hand)."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import Enum

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from apps.contract.models import Stored

_SCALARS: dict[type, DataType] = {
    str: StringType(),
    float: DoubleType(),
    int: LongType(),
    bool: BooleanType(),
    datetime: TimestampType(),
}


def spark_type(annotation: object) -> DataType:
    """The Spark type of a (pydantic-unwrapped) field annotation."""
    origin = typing.get_origin(annotation)
    if origin is list:
        [item] = typing.get_args(annotation)
        return ArrayType(spark_type(item), containsNull=False)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"the contract has no optional or union fields: {annotation}")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return spark_schema(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return StringType()
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"no Spark type for {annotation!r}")


def field_type(field: FieldInfo) -> DataType:
    """A field's Spark type: the decimal column it declares (money), else its annotation's."""
    for stored in (m for m in field.metadata if isinstance(m, Stored)):
        return DecimalType(stored.precision, stored.scale)
    return spark_type(field.annotation)


def spark_schema(model: type[BaseModel]) -> StructType:
    """A StructType with the model's fields, in order; every field is required, so not null."""
    return StructType([
        StructField(name, field_type(field), nullable=not field.is_required())
        for name, field in model.model_fields.items()
    ])
