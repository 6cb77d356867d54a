"""`analysis_refreshes`: one row per refresh of the four analysis tables, written in the
same transaction as they are (apps/analysis/store.py). Light: `invoke status` reads the
last one without importing the analysis (PySpark)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from psycopg2 import sql

DEFAULT_SCHEMA = "public"
# The DAG that refreshes the tables on a schedule (dags/analysis_refresh.py).
REFRESH_DAG_ID = "analysis_refresh"
# Each analysis table and the order its rows are read back in (the key of every ranking).
TABLES = {
    "top_products": "rank",
    "payment_types": "orders DESC, payment_type",
    "top_customers_last_hour": "rank",
    "repeat_purchases": "user_id, product_id",
}


@dataclass(frozen=True)
class Refresh:
    """What a refresh read: recorded with its tables, in the same transaction."""

    computed_at: datetime
    as_of: datetime
    lake_url: str
    lake_version: int | None
    lake_files: int
    orders: int
    tables: list[str] = field(default_factory=lambda: list(TABLES))  # the tables it wrote


REFRESHES = "analysis_refreshes"


def last_refresh(conn, schema: str = DEFAULT_SCHEMA) -> Refresh | None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT computed_at, as_of, lake_url, lake_version, lake_files, "
                            "orders, tables FROM {} ORDER BY refresh_id DESC LIMIT 1").format(
            sql.Identifier(schema, REFRESHES)))
        row = cur.fetchone()
    # rows written before refreshes recorded their tables wrote all four
    return None if row is None else Refresh(*row[:-1], tables=row[-1] or list(TABLES))
