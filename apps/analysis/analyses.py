"""The four analyses, as pure functions of a DataFrame of purchases (the lake's rows).

The lake's rows are deduplicated by OrderId (`dedupe_orders`); each analysis reads those
orders, and the two about products flatten them into `order_lines` (one flat row per
product line, carrying its order's fields). A run reads the lake and deduplicates it once:
`stored_orders` keeps the orders on Spark's local disk for the four (measured:
docs/analysis.md).
Each ranking has a full tie-break (ids ascending), so every engine gives the same order.
Column names of the results are the PostgreSQL tables' (sql/schema.sql).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from apps.analysis.hours import hour_before
from apps.contract.models import MONEY_COLUMN

TOP_CUSTOMERS = 10
SHARE_DECIMALS = 6  # payment_types.share is numeric(7, 6)
# A share is rounded half up from the exact quotient, in integer arithmetic in every engine:
# as a DOUBLE, 41 / 640 = 0.0640625 is 0.06406249999..., which rounds down to 0.064062.
SHARE_UNITS = 10 ** SHARE_DECIMALS  # a share is a whole number of its last decimal's units
SHARE_STEP = Decimal(1).scaleb(-SHARE_DECIMALS)  # that unit, as an exact decimal
MONEY = f"decimal({MONEY_COLUMN.precision}, {MONEY_COLUMN.scale})"
# Of several rows with one OrderId (a client's retry, a file read twice), the first
# Kafka accepted is kept: the same row in every engine. Rows with the same coordinates are
# one Kafka record landed twice (an object read twice, a compaction's output beside its
# inputs): identical, so whichever of them is kept, the row kept is the same.
FIRST_DELIVERED = ("kafka_partition", "kafka_offset")
# What the four analyses read of an order.
ANALYSED = ("OrderId", "UserId", "TimeStamp", "TotalPrice", "PaymentType", "Products")


def narrow_key(*columns: str) -> F.Column:
    """A 64-bit hash of the columns: what the wide aggregations group by first. Spark
    aggregates a fixed-width key several times faster than strings; a collision only adds
    rows to a candidate set that the exact step then settles, so no answer depends on it."""
    return F.xxhash64(*columns)


def dedupe_orders(purchases: DataFrame) -> DataFrame:
    """One row per OrderId: the first delivered (lowest Kafka partition, then offset).

    One narrow aggregation finds the keys of the OrderIds that may be held more than once
    (a client's retry, one record's row twice); those few rows get a window that keeps
    the first delivered of each OrderId; every other row is alone with its OrderId and is
    kept as it is. Both joins broadcast the same keys: Spark computes them once."""
    key = narrow_key("OrderId")
    repeated = (purchases.groupBy(key.alias("_key")).count()
                .where(F.col("count") > 1).select("_key"))
    first_delivered = Window.partitionBy("OrderId").orderBy(*FIRST_DELIVERED)
    kept_of_repeated = (
        purchases.join(F.broadcast(repeated), key == repeated["_key"], "left_semi")
        .withColumn("_n", F.row_number().over(first_delivered))
        .where(F.col("_n") == 1).drop("_n"))
    alone = purchases.join(F.broadcast(repeated), key == repeated["_key"], "left_anti")
    return alone.unionByName(kept_of_repeated)


def analysed_orders(purchases: DataFrame) -> DataFrame:
    """The deduplicated orders, only the columns the analyses read."""
    return dedupe_orders(purchases.select(*ANALYSED, *FIRST_DELIVERED)).select(*ANALYSED)


def stored_orders(purchases: DataFrame) -> DataFrame:
    """`analysed_orders`, kept for the run on Spark's local disk: the lake is read from S3 and
    deduplicated once, not once per analysis (at 1M purchases, a quarter less time for the
    four). On disk, not in memory: a million orders do not fit the warm server's heap
    beside the work, and the page cache serves them back about as fast. The caller counts
    them (which stores them) and releases them with `spark.catalog.clearCache()`, as
    `end_session` does."""
    return analysed_orders(purchases).persist(StorageLevel.DISK_ONLY)


def order_lines(orders: DataFrame) -> DataFrame:
    """One row per product line of an order, with the order's fields. `line` is the line's
    position; `first_of_product` marks the first line of each product in its order (an
    order may list a product twice: counting these counts distinct orders). The product
    ids are the array's field (`Products.ProductId`), not a `transform` lambda: Spark
    evaluates lambdas without generated code, for every line, which cost more than all
    the rest of this step."""
    ids = F.col("Products.ProductId").alias("product_ids")
    return orders.select("OrderId", "UserId", "TimeStamp", "TotalPrice", "PaymentType", ids,
                         F.posexplode("Products").alias("line", "item")).select(
        "OrderId", "UserId", "TimeStamp", "TotalPrice", "PaymentType", "line",
        F.col("item.ProductId").alias("ProductId"),
        F.col("item.ItemCount").alias("ItemCount"),
        (F.col("item.ItemCount") * (F.col("item.ItemPrice") - F.col("item.ItemDiscount")))
        .alias("line_value"),
        (F.array_position("product_ids", F.col("item.ProductId")) == F.col("line") + 1)
        .alias("first_of_product"))


def _count(condition) -> F.Column:
    return F.sum(F.when(condition, 1).otherwise(0))


def top_products(orders: DataFrame) -> DataFrame:
    """Every product: units, revenue (sum of count x (price - discount)), distinct orders;
    ranked by units, then product id."""
    totals = order_lines(orders).groupBy("ProductId").agg(
        F.sum("ItemCount").alias("units"),
        F.sum("line_value").cast(MONEY).alias("revenue"),
        _count(F.col("first_of_product")).cast("long").alias("orders"))
    by_units = Window.orderBy(F.desc("units"), F.asc("ProductId"))
    return (totals.withColumn("rank", F.row_number().over(by_units))
            .select("rank", F.col("ProductId").alias("product_id"), "units", "revenue", "orders")
            .orderBy("rank"))


def payment_types(orders: DataFrame) -> DataFrame:
    """Orders per payment type and their share of all orders (rounded half up to
    SHARE_DECIMALS), most preferred first."""
    counts = (orders.groupBy("PaymentType").agg(F.count(F.lit(1)).alias("orders"))
              .withColumn("_all", F.sum("orders").over(Window.partitionBy())))
    # round(orders / all, half up) = floor((2 * orders * units + all) / (2 * all)) units
    units = F.expr(f"(CAST(orders AS DECIMAL(38, 0)) * {2 * SHARE_UNITS} + _all) div (2 * _all)")
    share = units.cast("decimal(38, 0)") * F.lit(SHARE_STEP)
    return (counts.select(F.col("PaymentType").alias("payment_type"), "orders",
                          share.cast(f"decimal(7, {SHARE_DECIMALS})").alias("share"))
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
    lines, in one order are one order): orders, units, first and last of those orders.

    Nearly every pair is bought once: a narrow count per pair's key first keeps the lines
    of the few pairs that may repeat, and only those are aggregated by their strings. The
    pairs kept are few: they are sorted in one partition, since a sort over several would
    run the whole aggregation twice (once to sample the partitions' bounds)."""
    lines = order_lines(orders)
    pair = narrow_key("UserId", "ProductId")
    maybe = (lines.where(F.col("first_of_product")).groupBy(pair.alias("_key")).count()
             .where(F.col("count") >= 2).select("_key"))
    return (lines.join(F.broadcast(maybe), pair == maybe["_key"], "left_semi")
            .groupBy("UserId", "ProductId").agg(
                _count(F.col("first_of_product")).cast("int").alias("order_count"),
                F.sum("ItemCount").alias("total_units"),
                F.min("TimeStamp").alias("first_order_at"),
                F.max("TimeStamp").alias("last_order_at"))
            .where(F.col("order_count") >= 2)
            .select(F.col("UserId").alias("user_id"), F.col("ProductId").alias("product_id"),
                    "order_count", "total_units", "first_order_at", "last_order_at")
            .repartition(1).orderBy("user_id", "product_id"))


# Each result table and how it is computed from the deduplicated orders, as of a moment.
RESULTS = {
    "top_products": lambda orders, as_of: top_products(orders),
    "payment_types": lambda orders, as_of: payment_types(orders),
    "top_customers_last_hour": top_customers,
    "repeat_purchases": lambda orders, as_of: repeat_purchases(orders),
}
# The one whose answer moves with time even when the lake does not.
HOURLY = "top_customers_last_hour"
