"""The four analyses, as pure functions of a DataFrame of purchases (the lake's rows).

Every function takes `orders`, the output of `dedupe_orders`: one row per OrderId. Each
ranking has a full tie-break (ids ascending), so every engine gives the same order.
Column names of the results are the PostgreSQL tables' (sql/schema.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from apps.contract.models import MONEY_COLUMN

WINDOW = timedelta(hours=1)
TOP_CUSTOMERS = 10
SHARE_DECIMALS = 6  # payment_types.share is numeric(7, 6)
MONEY = f"decimal({MONEY_COLUMN.precision}, {MONEY_COLUMN.scale})"
# Of several rows with one OrderId (a client's retry, a file read twice), the first
# Kafka accepted is kept: the same row in every engine.
FIRST_DELIVERED = ("kafka_partition", "kafka_offset")


@dataclass(frozen=True)
class HourWindow:
    """`[start, end)`: the hour before `as_of`."""

    start: datetime
    end: datetime


def as_utc(moment: datetime) -> datetime:
    """A timestamp without an offset is UTC (as in the contract)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_before(as_of: datetime) -> HourWindow:
    end = as_utc(as_of)
    return HourWindow(end - WINDOW, end)


def dedupe_orders(purchases: DataFrame) -> DataFrame:
    """One row per OrderId: the first delivered (lowest Kafka partition, then offset)."""
    first = Window.partitionBy("OrderId").orderBy(*FIRST_DELIVERED)
    return (purchases.withColumn("_copy", F.row_number().over(first))
            .where(F.col("_copy") == 1).drop("_copy"))


def order_lines(orders: DataFrame) -> DataFrame:
    """One row per product line of an order (an order may list a product twice)."""
    return orders.select("OrderId", "UserId", "TimeStamp",
                         F.explode("Products").alias("line")).select(
        "OrderId", "UserId", "TimeStamp",
        F.col("line.ProductId").alias("ProductId"),
        F.col("line.ItemCount").alias("ItemCount"),
        (F.col("line.ItemCount") * (F.col("line.ItemPrice") - F.col("line.ItemDiscount")))
        .alias("line_value"))


def top_products(orders: DataFrame) -> DataFrame:
    """Every product: units, revenue (sum of count x (price - discount)), distinct orders;
    ranked by units, then product id."""
    totals = order_lines(orders).groupBy("ProductId").agg(
        F.sum("ItemCount").alias("units"),
        F.sum("line_value").cast(MONEY).alias("revenue"),
        F.countDistinct("OrderId").alias("orders"))
    by_units = Window.orderBy(F.desc("units"), F.asc("ProductId"))
    return (totals.withColumn("rank", F.row_number().over(by_units))
            .select("rank", F.col("ProductId").alias("product_id"), "units", "revenue", "orders")
            .orderBy("rank"))


def payment_types(orders: DataFrame) -> DataFrame:
    """Orders per payment type and their share of all orders, most preferred first."""
    counts = orders.groupBy("PaymentType").agg(F.count(F.lit(1)).alias("orders"))
    everything = Window.partitionBy()
    share = F.col("orders").cast("decimal(20, 0)") / F.sum("orders").over(everything)
    return (counts.select(F.col("PaymentType").alias("payment_type"), "orders",
                          F.round(share, SHARE_DECIMALS).cast(f"decimal(7, {SHARE_DECIMALS})")
                          .alias("share"))
            .orderBy(F.desc("orders"), F.asc("payment_type")))


def top_customers(orders: DataFrame, as_of: datetime, limit: int = TOP_CUSTOMERS) -> DataFrame:
    """The `limit` customers with the highest-value order in `[as_of - 1h, as_of)`: rank
    1..limit (ties by user id), that order (ties by order id) and its value, the window."""
    window = hour_before(as_of)
    in_hour = orders.where((F.col("TimeStamp") >= F.lit(window.start))
                           & (F.col("TimeStamp") < F.lit(window.end)))
    best_first = Window.partitionBy("UserId").orderBy(F.desc("TotalPrice"), F.asc("OrderId"))
    best = (in_hour.withColumn("_n", F.row_number().over(best_first)).where(F.col("_n") == 1))
    by_value = Window.orderBy(F.desc("TotalPrice"), F.asc("UserId"))
    return (best.withColumn("rank", F.row_number().over(by_value))
            .where(F.col("rank") <= limit)
            .select("rank", F.col("UserId").alias("user_id"),
                    F.col("TotalPrice").cast(MONEY).alias("max_order_value"),
                    F.col("OrderId").alias("order_id"),
                    F.lit(window.start).alias("window_start"),
                    F.lit(window.end).alias("window_end"))
            .orderBy("rank"))


def repeat_purchases(orders: DataFrame) -> DataFrame:
    """Each (customer, product) bought in two or more distinct orders (two units, or two
    lines, in one order are one order): orders, units, first and last of those orders."""
    per_order = order_lines(orders).groupBy("UserId", "ProductId", "OrderId").agg(
        F.sum("ItemCount").alias("units"), F.min("TimeStamp").alias("placed_at"))
    return (per_order.groupBy("UserId", "ProductId").agg(
        F.count(F.lit(1)).cast("int").alias("order_count"),
        F.sum("units").alias("total_units"),
        F.min("placed_at").alias("first_order_at"),
        F.max("placed_at").alias("last_order_at"))
        .where(F.col("order_count") >= 2)
        .select(F.col("UserId").alias("user_id"), F.col("ProductId").alias("product_id"),
                "order_count", "total_units", "first_order_at", "last_order_at")
        .orderBy("user_id", "product_id"))
