"""The analysis tables in PostgreSQL (sql/schema.sql): replaced whole, read back.

A result replaces a table's contents with DELETE then INSERT in one transaction. TRUNCATE
would be faster but is not MVCC-safe: a REPEATABLE READ reader whose snapshot was taken
before the TRUNCATE committed sees the table empty (and every reader waits on its lock).
DELETE keeps the old rows visible to every snapshot that predates the commit.
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import errors, sql
from psycopg2.extras import execute_values

from apps.analysis.lake import START_STACK, AnalysisError
# the refreshes' record lives apart, light enough for `invoke status` (re-exported here)
from apps.analysis.refreshes import (  # noqa: F401
    DEFAULT_SCHEMA, REFRESHES, TABLES, Refresh, last_refresh,
)
from apps.settings import REPO_ROOT, Settings

SCHEMA_FILE = REPO_ROOT / "sql" / "schema.sql"


def connect(settings: Settings):
    try:
        return psycopg2.connect(settings.postgres_url, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        where = urlsplit(settings.postgres_url)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnalysisError(f"PostgreSQL at {where.hostname}:{where.port} does not answer "
                            f"({reason}): {START_STACK}") from None


def create_tables(conn, schema: str) -> None:
    """The analysis tables in `schema` (created if needed), as sql/schema.sql defines them."""
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        cur.execute(SCHEMA_FILE.read_text())


def drop_schema(conn, schema: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def missing_table(exc: errors.UndefinedTable, schema: str) -> AnalysisError:
    first_line = exc.pgerror.strip().splitlines()[0]
    return AnalysisError(f"{first_line} in schema {schema!r}: `invoke up` creates the analysis tables")


def replace_tables(conn, results: dict[str, tuple[list[str], list[tuple]]],
                   schema: str = DEFAULT_SCHEMA, refresh: Refresh | None = None) -> None:
    """Replace each table's contents, all in ONE transaction: readers see the previous
    results or the new ones, never a table empty or half-written; with them, the refresh's
    record (the lake version it read).

    results: {table: (columns, rows)}."""
    try:
        with conn, conn.cursor() as cur:
            if refresh is not None:
                cur.execute(sql.SQL("INSERT INTO {} (computed_at, as_of, lake_url, lake_version, "
                                    "lake_files, orders, tables) "
                                    "VALUES (%s, %s, %s, %s, %s, %s, %s)").format(
                    sql.Identifier(schema, REFRESHES)), astuple(refresh))
            for table, (columns, rows) in results.items():
                target = sql.Identifier(schema, table)
                cur.execute(sql.SQL("DELETE FROM {}").format(target))
                if rows:
                    execute_values(cur, sql.SQL("INSERT INTO {} ({}) VALUES %s").format(
                        target, sql.SQL(", ").join(map(sql.Identifier, columns))), rows,
                        page_size=1000)
    except errors.UndefinedTable as exc:
        raise missing_table(exc, schema) from None


def read_table(conn, table: str, schema: str = DEFAULT_SCHEMA) -> tuple[list[str], list[tuple]]:
    """A result table's columns (but computed_at) and rows, in its ranking's order."""
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} ORDER BY " + TABLES[table]).format(
            sql.Identifier(schema, table)))
        columns = [c.name for c in cur.description]
        keep = sorted((i for i, c in enumerate(columns) if c != "computed_at"),
                      key=lambda i: columns[i] != "rank")  # a ranking reads rank first
        return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in cur.fetchall()]


def frame_rows(frame, computed_at: datetime) -> tuple[list[str], list[tuple]]:
    """A result DataFrame's columns and rows, with `computed_at` appended; timestamps
    (which PySpark hands back as naive local times) made UTC-aware."""
    def value(v: object) -> object:
        return v.astimezone(UTC) if isinstance(v, datetime) else v

    rows = [tuple(value(v) for v in row) + (computed_at,) for row in frame.collect()]
    return [*frame.columns, "computed_at"], rows
