"""The streaming query's DataFrame steps, on the shared local[1] session, without servers."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from pyspark.sql import Row
from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType, TimestampType

from apps.purchase_stream import layout
from apps.purchase_stream.transform import kafka_records, validated

# The Kafka source's columns (the ones the query reads, plus some it drops).
KAFKA = StructType([
    StructField("key", BinaryType()), StructField("value", BinaryType()),
    StructField("topic_unused", BinaryType()), StructField("partition", IntegerType()),
    StructField("offset", LongType()), StructField("timestamp", TimestampType()),
])
AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
GOOD = {"SessionId": "s", "TimeStamp": "2025-06-01T12:00:00Z", "UserId": "u",
        "TotalPrice": 19.98, "OrderId": "o-1",
        "Products": [{"ProductId": "p", "ItemCount": 2, "ItemPrice": 9.99, "ItemDiscount": 0.0}],
        "PaymentType": "CreditCard"}


def test_kafka_rows_are_validated_by_the_contract(spark):
    kafka = spark.createDataFrame([
        (b"u", json.dumps(GOOD).encode(), None, 2, 10, AT),
        (b"u", b'{"OrderId": 1}', None, 0, 11, AT),
    ], KAFKA)
    out = validated(kafka_records(kafka))
    assert out.schema == layout.VALIDATED_SCHEMA
    good, bad = sorted(out.collect(), key=lambda r: r.kafka_offset)
    assert good.reason is None and good.value is None
    assert good.TotalPrice == Decimal("19.98") and good.TimeStamp == AT.replace(tzinfo=None)
    assert good.Products == [Row(ProductId="p", ItemCount=2, ItemPrice=Decimal("9.99"),
                                 ItemDiscount=Decimal("0.00"))]
    assert (good.kafka_partition, good.kafka_offset, good.PaymentType) == (2, 10, "CreditCard")
    assert bad.value == bytearray(b'{"OrderId": 1}') and bad.OrderId is None
    assert bad.reason.startswith("SessionId: Field required")
