"""`analysis_refreshes`: one row per refresh of the four analysis tables, written in the
same transaction as they are (apps/analysis/store.py). Light: `invoke status` reads the
last one without importing the analysis (PySpark)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg2 import sql

DEFAULT_SCHEMA = "public"


@dataclass(frozen=True)
class Refresh:
    """What a refresh read: recorded with its tables, in the same transaction."""

    computed_at: datetime
    as_of: datetime
    lake_url: str
    lake_version: int | None
    lake_files: int
    orders: int


REFRESHES = "analysis_refreshes"


def last_refresh(conn, schema: str = DEFAULT_SCHEMA) -> Refresh | None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT computed_at, as_of, lake_url, lake_version, lake_files, "
                            "orders FROM {} ORDER BY refresh_id DESC LIMIT 1").format(
            sql.Identifier(schema, REFRESHES)))
        row = cur.fetchone()
    return None if row is None else Refresh(*row)
