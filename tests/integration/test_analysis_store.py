"""Replacing a result table in PostgreSQL while readers query it, in a scratch schema."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED, ISOLATION_LEVEL_REPEATABLE_READ

from apps.analysis import store
from apps.analysis.lake import AnalysisError

pytestmark = pytest.mark.integration

COLUMNS = ["user_id", "product_id", "order_count", "total_units", "first_order_at",
           "last_order_at", "computed_at"]
REPLACEMENTS = 60


@pytest.fixture
def scratch(stack):
    """A schema of the test's own with the analysis tables; dropped afterwards."""
    schema = f"analysis_test_{uuid.uuid4().hex[:10]}"
    conn = store.connect(stack)
    store.create_tables(conn, schema)
    yield conn, schema
    store.drop_schema(conn, schema)
    conn.close()


def version(n: int, size: int) -> list[tuple]:
    """`size` rows, all stamped with the version's computed_at."""
    stamp = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return [(f"u{i:05d}", f"p{n % 7}", 2, 3, stamp, stamp, stamp) for i in range(size)]


def test_readers_never_see_repeat_purchases_empty_or_half_written(stack, scratch):
    conn, schema = scratch
    sizes = {n: 2000 + 500 * (n % 3) for n in range(REPLACEMENTS + 1)}
    store.replace_tables(conn, {"repeat_purchases": (COLUMNS, version(0, sizes[0]))}, schema)
    stamps = {version(n, 1)[0][-1]: sizes[n] for n in sizes}
    done = threading.Event()
    seen: dict[str, list[tuple]] = {"read committed": [], "repeatable read": []}
    failures: list[str] = []

    def read(level_name: str, level: int) -> None:
        reader = psycopg2.connect(stack.postgres_url)
        reader.set_isolation_level(level)
        try:
            while not done.is_set():
                with reader.cursor() as cur:
                    cur.execute("SELECT 1")  # REPEATABLE READ takes its snapshot here...
                    time.sleep(0.005)  # ...and a replacement may commit meanwhile
                    cur.execute(f"SELECT count(*), count(DISTINCT computed_at), min(computed_at) "
                                f"FROM {schema}.repeat_purchases")
                    count, versions, stamp = cur.fetchone()
                reader.rollback()
                seen[level_name].append((count, versions, stamp))
        except Exception as exc:  # reported by the test, not lost in the thread
            failures.append(f"{level_name}: {exc!r}")
        finally:
            reader.close()

    readers = [threading.Thread(target=read, args=(name, level)) for name, level in
               (("read committed", ISOLATION_LEVEL_READ_COMMITTED),
                ("repeatable read", ISOLATION_LEVEL_REPEATABLE_READ)) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for n in range(1, REPLACEMENTS + 1):
            store.replace_tables(conn, {"repeat_purchases": (COLUMNS, version(n, sizes[n]))},
                                 schema)
    finally:
        done.set()
        for reader in readers:
            reader.join(timeout=60)
    assert failures == []
    for level_name, reads in seen.items():
        assert len(reads) > 20, level_name
        bad = [r for r in reads if r[0] == 0 or r[1] != 1 or r[0] != stamps[r[2]]]
        assert bad == [], f"{level_name} saw an empty or half-written table: {bad[:5]}"
        assert len({stamp for _, _, stamp in reads}) > 2, f"{level_name} overlapped no writes"


def test_a_missing_table_names_itself_and_invoke_up(stack, scratch):
    conn, schema = scratch
    with pytest.raises(AnalysisError, match=r'relation ".*no_such_table" does not exist.*'
                                            r"`invoke up` creates the analysis tables"):
        store.replace_tables(conn, {"no_such_table": (["a"], [(1,)])}, schema)


def test_an_unreachable_postgres_says_invoke_up(stack):
    closed = stack.model_copy(update={"postgres_dsn": stack.postgres_dsn.__class__(
        "postgresql://nobody:x@127.0.0.1:1/shopstream")})
    with pytest.raises(AnalysisError, match=r"^PostgreSQL at 127.0.0.1:1 does not answer .*"
                                            r"start it with `invoke up`$"):
        store.connect(closed)


# product -> each repeat customer's order count (total_units = order_count + 1 per row)
KNOWN_REPEATS = {
    "P01": [2, 2, 2, 2], "P02": [2, 2, 2, 3], "P03": [2, 2, 2], "P04": [2, 2, 2],
    "P05": [5, 5], "P06": [2, 2], "P07": [9], "P08": [3], "P09": [2], "P10": [2],
    "P11": [2], "P12": [2],
}
# rank, product, repeat customers, repeat orders, repeat units. P02 beats P01 on orders;
# P03/P04 and P09/P10/P11/P12 tie on both counts: product id decides; P11, P12 are cut.
TOP_REPEAT = [
    (1, "P02", 4, 9, 13), (2, "P01", 4, 8, 12), (3, "P03", 3, 6, 9), (4, "P04", 3, 6, 9),
    (5, "P05", 2, 10, 12), (6, "P06", 2, 4, 6), (7, "P07", 1, 9, 10), (8, "P08", 1, 3, 4),
    (9, "P09", 1, 2, 3), (10, "P10", 1, 2, 3),
]


def test_top_repeat_sql_returns_the_known_ten_in_order(stack, scratch):
    from apps.analysis.queries import run_query

    conn, schema = scratch
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(f"u{i}", product, n, n + 1, stamp, stamp, stamp)
            for product, counts in KNOWN_REPEATS.items() for i, n in enumerate(counts)]
    store.replace_tables(conn, {"repeat_purchases": (COLUMNS, rows)}, schema)
    columns, got = run_query(conn, "top-repeat", schema)
    assert columns == ["rank", "product_id", "repeat_customers", "repeat_orders", "repeat_units"]
    assert got == TOP_REPEAT
