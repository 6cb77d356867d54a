"""The four analyses again, in DuckDB over Arrow data: a second engine for cross-checks
(tests) and the reference the Spark version is measured against (`invoke bench analyze`).

The definitions are analyses.py's, written independently in SQL; the lake relation is any
Arrow table or pyarrow dataset with the lake's columns (apps.purchase_stream.layout.RAW_ARROW).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from apps.analysis.analyses import SHARE_DECIMALS, SHARE_STEP, SHARE_UNITS, TOP_CUSTOMERS
from apps.analysis.hours import hour_before

ORDERS = """
CREATE OR REPLACE TEMP TABLE orders AS
SELECT OrderId, UserId, TimeStamp, TotalPrice, PaymentType, Products FROM lake
QUALIFY row_number() OVER (PARTITION BY OrderId ORDER BY kafka_partition, kafka_offset) = 1;
CREATE OR REPLACE TEMP VIEW lines AS
SELECT OrderId, UserId, TimeStamp, line.ProductId AS ProductId, line.ItemCount AS ItemCount,
       line.ItemCount * (line.ItemPrice - line.ItemDiscount) AS line_value
FROM (SELECT OrderId, UserId, TimeStamp, unnest(Products) AS line FROM orders);
"""

QUERIES = {
    "top_products": """
SELECT row_number() OVER (ORDER BY units DESC, product_id) AS rank, *
FROM (SELECT ProductId AS product_id, sum(ItemCount) AS units,
             CAST(sum(line_value) AS DECIMAL(16, 2)) AS revenue, count(DISTINCT OrderId) AS orders
      FROM lines GROUP BY ProductId)
ORDER BY rank""",
    # Half up in integers, as analyses.payment_types: DuckDB divides decimals as DOUBLE.
    "payment_types": f"""
SELECT payment_type, orders,
       CAST(CAST((CAST(orders AS HUGEINT) * {2 * SHARE_UNITS} + total) // (2 * total)
                 AS DECIMAL(38, 0)) * {SHARE_STEP:f} AS DECIMAL(7, {SHARE_DECIMALS})) AS share
FROM (SELECT PaymentType AS payment_type, count(*) AS orders, sum(count(*)) OVER () AS total
      FROM orders GROUP BY PaymentType)
ORDER BY orders DESC, payment_type""",
    "top_customers": """
SELECT row_number() OVER (ORDER BY TotalPrice DESC, UserId) AS rank, UserId AS user_id,
       CAST(TotalPrice AS DECIMAL(16, 2)) AS max_order_value, OrderId AS order_id,
       CAST($start AS TIMESTAMPTZ) AS window_start, CAST($end AS TIMESTAMPTZ) AS window_end
FROM (SELECT * FROM orders WHERE TimeStamp >= $start AND TimeStamp < $end
      QUALIFY row_number() OVER (PARTITION BY UserId ORDER BY TotalPrice DESC, OrderId) = 1)
ORDER BY rank LIMIT $limit""",
    "repeat_purchases": """
SELECT UserId AS user_id, ProductId AS product_id, CAST(count(*) AS INTEGER) AS order_count,
       sum(units) AS total_units, min(placed_at) AS first_order_at, max(placed_at) AS last_order_at
FROM (SELECT UserId, ProductId, OrderId, sum(ItemCount) AS units, min(TimeStamp) AS placed_at
      FROM lines GROUP BY UserId, ProductId, OrderId)
GROUP BY UserId, ProductId HAVING count(*) >= 2
ORDER BY user_id, product_id""",
}


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # timestamps without a zone in the files are UTC
    return con


def analyse(lake, as_of: datetime, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """Each analysis's result as an Arrow table, keyed by its PostgreSQL table's name."""
    con = con or connect()
    con.register("lake", lake)
    con.execute(ORDERS)
    window = hour_before(as_of)
    params = {"top_customers": {"start": window.start, "end": window.end,
                                "limit": TOP_CUSTOMERS}}
    return {name: con.sql(sql, params=params.get(name)).to_arrow_table()
            for name, sql in QUERIES.items()}
