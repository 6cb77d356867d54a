"""The Spark schema is derived from the contract models, field for field."""

import pytest
from pyspark.sql.types import (
    ArrayType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from apps.contract.models import Purchase, UserEvent
from apps.contract.spark import spark_schema, spark_type


def test_user_event_schema():
    assert spark_schema(UserEvent) == StructType([
        StructField("UserId", StringType(), False),
        StructField("SessionId", StringType(), False),
        StructField("EventName", StringType(), False),
        StructField("TimeStamp", TimestampType(), False),
        StructField("Attributes", StructType([
            StructField("ProductId", StringType(), False),
            StructField("Price", DecimalType(16, 2), False),
            StructField("Discount", DecimalType(16, 2), False),
        ]), False),
    ])


def test_purchase_schema():
    assert spark_schema(Purchase) == StructType([
        StructField("SessionId", StringType(), False),
        StructField("TimeStamp", TimestampType(), False),
        StructField("UserId", StringType(), False),
        StructField("TotalPrice", DecimalType(16, 2), False),
        StructField("OrderId", StringType(), False),
        StructField("Products", ArrayType(StructType([
            StructField("ProductId", StringType(), False),
            StructField("ItemCount", LongType(), False),
            StructField("ItemPrice", DecimalType(16, 2), False),
            StructField("ItemDiscount", DecimalType(16, 2), False),
        ]), containsNull=False), False),
        StructField("PaymentType", StringType(), False),
    ])


def test_the_schema_follows_the_model_field_order():
    assert spark_schema(Purchase).fieldNames() == list(Purchase.model_fields)


def test_a_type_without_a_spark_equivalent_is_refused():
    with pytest.raises(TypeError, match="no Spark type"):
        spark_type(complex)
    with pytest.raises(TypeError, match="no optional or union"):
        spark_type(int | None)
