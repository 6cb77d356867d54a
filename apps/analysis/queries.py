"""The named queries of sql/ (`invoke sql top-repeat` runs sql/top_repeat.sql)."""

from __future__ import annotations

from pathlib import Path

from psycopg2 import errors, sql

from apps.analysis.lake import AnalysisError
from apps.analysis.store import DEFAULT_SCHEMA, SCHEMA_FILE, missing_table

SQL_DIR = SCHEMA_FILE.parent


def known() -> dict[str, Path]:
    """Query name (dashes for underscores) -> file; the schema file is not a query."""
    return {p.stem.replace("_", "-"): p for p in sorted(SQL_DIR.glob("*.sql")) if p != SCHEMA_FILE}


def query_file(name: str) -> Path:
    queries = known()
    wanted = name.removesuffix(".sql").replace("_", "-")
    if wanted not in queries:
        raise AnalysisError(f"no query {name!r} in {SQL_DIR.name}/; known: {', '.join(queries)}")
    return queries[wanted]


def run_query(conn, name: str, schema: str = DEFAULT_SCHEMA) -> tuple[list[str], list[tuple]]:
    """Run sql/NAME.sql with `schema` first on the search path; (columns, rows)."""
    text = query_file(name).read_text()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
            cur.execute(text)
            return [c.name for c in cur.description], cur.fetchall()
    except errors.UndefinedTable as exc:
        raise missing_table(exc, schema) from None
