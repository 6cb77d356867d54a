"""Lake maintenance on the stack's S3 store, each test on a scratch prefix of its own: a
run killed with `kill -9` and run again, a writer committing beside it, vacuum's grace,
and the DAG that schedules it.

Exactness is judged by a reader that shares no code with apps/lake: delta-rs's own
`DeltaTable`, opened here with nothing but the store's address and keys. Exact means each
Kafka record (partition, offset) written is in the table once, and nothing else is.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from apps.lake.maintenance import GRACE, maintain
from apps.lake.marks import Marks
from apps.lake.figures import size, table_figures
from apps.lake.runs import LakeFiguresFile, lake_lines
from apps.lake.tables import RAW_TABLE, Appender, LakeTable, append, committed_marks
from apps.purchase_stream.layout import RAW_ARROW
from apps.purchase_stream.store import remove_prefix
from apps.settings import REPO_ROOT, Settings
from apps.stack.services import airflow as airflow_service
from apps.stack.services.s3 import minio_client

pytestmark = pytest.mark.integration

DAG_ID = "lake_maintenance"
PARTITIONS = 3
FIRST_DAY = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PERIOD_DONE = re.compile(r"raw dt=\S+: \d+ files -> \d+ in")


def independent_options(settings: Settings) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": settings.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": settings.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key.get_secret_value(),
            "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
            "AWS_FORCE_PATH_STYLE": "true"}


class Lake:
    """The test's raw table and what it wrote to it, as the stream writes: batches of
    Kafka records of one incarnation, each one commit with the table's marks."""

    def __init__(self, settings: Settings, root: str):
        self.settings, self.root = settings, root
        self.table: LakeTable = RAW_TABLE.under(root)
        self.uri = f"s3://{settings.s3_bucket}/{root}raw"
        self.marks = Marks("PurchasedItem", f"topic-{uuid.uuid4()}")
        self.written: set[tuple[int, int]] = set()
        self.appends = 0
        self.processes: list[subprocess.Popen] = []  # maintenance runs on this lake

    def batch(self, days: range, per_day: int) -> pa.Table:
        rows = []
        for day in days:
            stamp = FIRST_DAY + timedelta(days=day)
            for i in range(per_day):
                partition = i % PARTITIONS
                offset = self.marks.ends.get(partition, 0) + sum(
                    1 for r in rows if r["kafka_partition"] == partition)
                rows.append({
                    "SessionId": f"s-{partition}-{offset}", "TimeStamp": stamp,
                    "UserId": f"u-{offset % 7}", "TotalPrice": Decimal("19.98"),
                    "OrderId": f"o-{partition}-{offset}",
                    "Products": [{"ProductId": f"p-{offset % 5}", "ItemCount": 2,
                                  "ItemPrice": Decimal("9.99"), "ItemDiscount": Decimal("0.00")}],
                    "PaymentType": "CreditCard", "kafka_partition": partition,
                    "kafka_offset": offset, "kafka_timestamp": stamp,
                    "kafka_topic_id": self.marks.topic_id})
        return pa.Table.from_pylist(rows, schema=RAW_ARROW)

    def write(self, days: range, per_day: int = 4, appender: Appender | None = None
              ) -> DeltaTable | None:
        """One commit of `per_day` records into each of `days`: a file per period (through
        the stream's `appender` when given: its table as that commit left it)."""
        rows = self.batch(days, per_day)
        marks = self.marks.after(rows)
        delta = (appender or partial(append, self.settings))(self.table, rows, marks)
        self.marks = marks
        self.written |= set(zip(rows["kafka_partition"].to_pylist(),
                                rows["kafka_offset"].to_pylist()))
        self.appends += 1
        return delta

    # What a reader outside the project sees.

    def delta(self) -> DeltaTable:
        return DeltaTable(self.uri, storage_options=independent_options(self.settings))

    def records(self) -> Counter:
        held = self.delta().to_pyarrow_table(columns=["kafka_partition", "kafka_offset"])
        return Counter(zip(held["kafka_partition"].to_pylist(), held["kafka_offset"].to_pylist()))

    def assert_exact(self, written: set[tuple[int, int]] | None = None) -> None:
        written = self.written if written is None else written
        held = self.records()
        doubled = {k: n for k, n in held.items() if n > 1}
        assert not doubled, f"{len(doubled)} records more than once, e.g. {list(doubled)[:3]}"
        assert set(held) == written, (f"{len(written - set(held))} missing, "
                                      f"{len(set(held) - written)} never written")

    def assert_every_version_exact(self, since: int) -> int:
        """Every version committed since `since`, as a reader of that version reads it:
        exactly the records of the appends committed by then (the marks each append
        recorded in its commit say which). Returns how many versions were read."""
        history = self.delta().history()  # newest first
        marks_at = sorted((c["version"], json.loads(c["shopstream.kafka"])["ends"])
                          for c in history if "shopstream.kafka" in c)
        latest = max(c["version"] for c in history)
        for version in range(since, latest + 1):
            ends = {int(p): e for p, e in
                    [m for v, m in marks_at if v <= version][-1].items()}
            expected = {(p, o) for p, o in self.written if o < ends.get(p, 0)}
            held = self.delta_at(version).to_pyarrow_table(
                columns=["kafka_partition", "kafka_offset"])
            counted = Counter(zip(held["kafka_partition"].to_pylist(),
                                  held["kafka_offset"].to_pylist()))
            doubled = [k for k, n in counted.items() if n > 1]
            assert not doubled, f"version {version}: {len(doubled)} records twice"
            assert set(counted) == expected, (f"version {version}: "
                                              f"{len(expected - set(counted))} missing, "
                                              f"{len(set(counted) - expected)} extra")
        return latest + 1 - since

    def delta_at(self, version: int) -> DeltaTable:
        return DeltaTable(self.uri, version=version,
                          storage_options=independent_options(self.settings))

    def files_per_period(self) -> dict[str, int]:
        actions = pa.table(self.delta().get_add_actions(flatten=True))
        return dict(Counter(actions["partition.dt"].to_pylist()))

    def data_objects(self) -> list[str]:
        return [o.object_name for o in minio_client(self.settings).list_objects(
                    self.settings.s3_bucket, f"{self.root}raw/", recursive=True)
                if "/_delta_log/" not in o.object_name and "/_maintenance/" not in o.object_name]


@pytest.fixture
def lake(stack):
    root = f"tests/maint-{uuid.uuid4().hex[:12]}/"
    made = Lake(stack, root)
    yield made
    for proc in made.processes:  # a failed test's run must not write after the removal
        proc.kill()
        proc.wait(30)
    remove_prefix(stack, root)


def maintenance(lake: Lake, *flags: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "apps.lake.maintenance", "--root",
                             lake.root, *flags], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lake.processes.append(proc)
    return proc


def lines_of(proc: subprocess.Popen) -> queue.Queue:
    """The process's output lines as they come (None at its end)."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


class Watcher(threading.Thread):
    """Reads the table again and again until stopped, judging each read exact."""

    def __init__(self, lake: Lake):
        super().__init__(daemon=True)
        self.lake, self.stop, self.reads, self.failures = lake, threading.Event(), 0, []
        self.versions: set[int] = set()

    def run(self):
        while not self.stop.is_set():
            try:
                self.lake.assert_exact()
                self.versions.add(self.lake.delta().version())
                self.reads += 1
            except AssertionError as exc:
                self.failures.append(str(exc))

    def finish(self) -> None:
        self.stop.set()
        self.join(60)
        assert not self.failures, self.failures[:3]


DAYS = range(6)


def test_maintenance_killed_midway_leaves_the_lake_exact_and_a_second_run_completes(lake):
    for _ in range(30):  # 30 stream batches, each into all 6 periods: 180 small files
        lake.write(DAYS)
    lake.assert_exact()
    assert set(lake.files_per_period().values()) == {30}
    before = lake.delta().version()

    watcher = Watcher(lake)
    watcher.start()
    proc = maintenance(lake)
    output, lines = [], lines_of(proc)
    while (line := lines.get(timeout=120)) is not None:
        output.append(line)
        if PERIOD_DONE.search(line):  # its first period is committed: kill it here
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait(30) == -signal.SIGKILL, "\n".join(output)
    time.sleep(1)  # a few more reads of what the killed run left
    watcher.finish()
    assert watcher.reads >= 3, watcher.reads
    lake.assert_exact()
    left = lake.files_per_period()
    assert 1 in left.values() and 30 in left.values(), left  # killed midway, truly
    assert lake.assert_every_version_exact(before) >= 2  # what any reader could have read

    watcher = Watcher(lake)
    watcher.start()
    again = subprocess.run([sys.executable, "-m", "apps.lake.maintenance", "--root", lake.root],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    watcher.finish()
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    print(again.stdout)  # per period: files before and after, seconds
    lake.assert_exact()
    lake.assert_every_version_exact(before)
    assert set(lake.files_per_period().values()) == {1}
    assert len(lake.files_per_period()) == len(DAYS)


def test_a_writer_committing_while_maintenance_runs_leaves_the_lake_exact(lake):
    for _ in range(15):
        lake.write(DAYS)
    before = lake.delta().version()
    proc = maintenance(lake)
    lines = lines_of(proc)
    during = 0
    while proc.poll() is None:  # the stream's way: batch after batch, into the same periods
        lake.write(DAYS, per_day=3)
        during += 1
    output = []
    while (line := lines.get(timeout=60)) is not None:
        output.append(line)
    assert proc.returncode == 0, "\n".join(output)
    print("\n".join(output), f"\n{during} appends committed while maintenance ran")
    assert during >= 2, during
    assert any(PERIOD_DONE.search(line) for line in output), output
    lake.assert_exact()
    lake.assert_every_version_exact(before)
    # The marks of the writer's last commit are the table's: maintenance's commits in
    # between hid none of them.
    assert committed_marks(lake.settings, lake.table, lake.marks.topic,
                           lake.marks.topic_id) == lake.marks


def test_vacuum_removes_superseded_files_only_after_the_grace(lake):
    for _ in range(10):
        lake.write(range(3))
    client = minio_client(lake.settings)
    # An object the log never named, like a writer's file not yet committed: no vacuum may
    # take it, whatever the grace.
    stray = f"{lake.root}raw/dt=2026-11-01/not-yet-committed.parquet"
    client.put_object(lake.settings.s3_bucket, stray, io.BytesIO(b"x"), 1)
    assert len(lake.data_objects()) == 30 + 1

    maintain(lake.settings, lake.table, closed_only=False)  # the default grace
    lake.assert_exact()
    assert set(lake.files_per_period().values()) == {1}
    assert len(lake.data_objects()) == 30 + 3 + 1  # replaced files stay for readers

    figures = maintain(lake.settings, lake.table, closed_only=False, grace=timedelta(0))
    assert figures.files_vacuumed == 30
    lake.assert_exact()
    assert sorted(lake.data_objects()) == sorted(
        [*(f.split(f"/{lake.settings.s3_bucket}/", 1)[-1]
           for f in lake.delta().file_uris()), stray])
    assert len(lake.data_objects()) == 3 + 1
    assert GRACE >= timedelta(hours=1)


def test_status_shows_the_lake_as_its_writers_last_recorded_it(lake, tmp_path):
    stream_file = tmp_path / "stream.lake.json"

    def status() -> str:
        raw, quarantine = lake_lines(lake.settings, stream_file, lake.root)
        assert quarantine == "quarantine: nothing recorded yet; no maintenance run recorded"
        return raw

    def live() -> tuple[int, str]:  # what an independent reader counts
        sizes = pa.table(lake.delta().get_add_actions(flatten=True))["size_bytes"].to_pylist()
        return len(sizes), size(sum(sizes))

    assert status() == "raw: nothing recorded yet; no maintenance run recorded"
    appender, recorded = Appender(lake.settings), LakeFiguresFile(stream_file)
    for _ in range(4):  # as the stream commits and records
        recorded.record(table_figures(lake.write(range(3), appender=appender), "raw", "stream"))
    files, held = live()
    assert files == 12
    assert re.fullmatch(rf"raw v3: 12 files, {held}, oldest uncompacted dt=2026-11-01 "
                        r"\(stream, \d+ s ago\); no maintenance run recorded", status()), status()

    maintain(lake.settings, lake.table, closed_only=False)
    files, held = live()
    assert files == 3
    assert re.fullmatch(rf"raw v6: 3 files, {held}, all compacted \(maintenance, \d+ s ago\); "
                        r"maintenance \d+ s ago: 3 periods compacted, 0 files vacuumed",
                        status()), status()

    # The stream's next commit is newer than the run: status shows the stream's figures.
    recorded.record(table_figures(lake.write(range(1, 2), appender=appender), "raw", "stream"))
    files, held = live()
    assert files == 4
    assert re.fullmatch(rf"raw v7: 4 files, {held}, oldest uncompacted dt=2026-11-02 "
                        r"\(stream, \d+ s ago\); maintenance \d+ s ago: 3 periods compacted, "
                        r"0 files vacuumed", status()), status()
    lake.assert_exact()


def test_the_deployed_dag_is_parsed_unpaused_and_scheduled_hourly(stack):
    from apps.user_events.airflow_api import AirflowApi

    with AirflowApi(stack) as api:
        assert [e for e in api.import_errors() if DAG_ID in e["filename"]] == []
        dag = api.dag(DAG_ID)
    assert (dag["is_paused"], dag["timetable_summary"], dag["max_active_runs"]) == \
        (False, "0 * * * *", 1)
    assert dag["fileloc"] == str(REPO_ROOT / "dags" / "lake_maintenance.py")


def test_the_dag_runs_maintenance_in_the_projects_python_and_fails_when_it_fails(
        lake, tmp_path):
    """`dag.test()` in Airflow's own environment (no delta-rs there), with a metadata
    database of its own: one run on the test's prefix, one with a prefix maintenance
    refuses. The fresh periods are not closed yet, so the scheduled run leaves them."""
    for _ in range(3):
        lake.write(range(2))
    env = {**os.environ, **airflow_service.environment(lake.settings),
           "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db"}
    env.pop("ALERT_WEBHOOK_URL", None)
    airflow_bin = airflow_service.VENV.bin()
    subprocess.run([str(airflow_bin / "airflow"), "db", "migrate"], env=env, check=True,
                   capture_output=True, timeout=300)
    script = (
        "import runpy, importlib.util\n"
        "print('DELTALAKE', importlib.util.find_spec('deltalake') is not None)\n"
        "dag = runpy.run_path('dags/lake_maintenance.py')['lake_maintenance']()\n"
        "for t in dag.tasks: t.retries = 0\n"
        f"print('STATE', dag.test(run_conf={{'root': {lake.root!r}}}).state)\n"
        "print('STATE', dag.test(run_conf={'root': 'not-a-prefix'}).state)\n")
    proc = subprocess.run([str(airflow_bin / "python"), "-c", script], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert "DELTALAKE False" in proc.stdout, output[-3000:]
    assert re.findall(r"STATE (\w+)", proc.stdout) == ["success", "failed"], output[-5000:]
    assert "raw: 0 periods compacted" in output, output[-5000:]  # the subprocess's own words
    assert "a lake prefix is relative and ends with '/'" in output, output[-5000:]
    lake.assert_exact()
    assert set(lake.files_per_period().values()) == {3}


def test_two_maintenance_runs_at_once_leave_the_lake_exact(lake):
    """The schedule and `invoke compact` may overlap: one run works, the other stays off."""
    for _ in range(20):
        lake.write(DAYS)
    before = lake.delta().version()
    runs = [maintenance(lake), maintenance(lake)]
    outputs = [proc.communicate(timeout=300)[0] for proc in runs]
    assert [proc.returncode for proc in runs] == [0, 0], outputs
    print(*outputs, sep="\n")
    lake.assert_exact()
    lake.assert_every_version_exact(before)
    assert set(lake.files_per_period().values()) == {1}


def test_a_run_stays_off_a_table_whose_lease_another_run_holds(lake):
    from apps.lake.lease import Lease

    for _ in range(5):
        lake.write(range(2))
    with Lease(lake.settings, lake.table):
        figures = maintain(lake.settings, lake.table, closed_only=False)
    assert figures.held_by.startswith("another maintenance run")
    assert figures.periods_compacted == 0
    assert set(lake.files_per_period().values()) == {5}
    assert maintain(lake.settings, lake.table, closed_only=False).periods_compacted == 2
    lake.assert_exact()
