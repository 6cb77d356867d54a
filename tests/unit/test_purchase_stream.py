"""The stream's pure parts: validation by the contract, the lake layout, the batch split,
the commits a batch makes, where a stream starts, progress, the failure streak and the
service spec."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.contract.models import Purchase, kafka_value
from apps.kafka_admin import TopicDescription
from apps.lake.files import LocalStore
from apps.lake.marks import Marks
from apps.lake.runs import write_atomically
from apps.purchase_stream import alert, layout, progress, resume
from apps.purchase_stream.config import StreamConfig, job_argv, parse_args
from apps.purchase_stream.resume import starting_offsets
from apps.purchase_stream.validate import validate_batch, validate_value
from apps.purchase_stream.writer import BatchWriter, split
from apps.stack.paths import STACK_DIR

TOPIC_ID = "2870ed4a-2f24-4d00-bbb9-c740b376cc15"

KAFKA_TIME = datetime(2025, 6, 2, 23, 59, 59, tzinfo=UTC)
PURCHASE = {
    "SessionId": "s-1", "TimeStamp": "2025-06-01T23:30:00-02:00", "UserId": "u-1",
    "TotalPrice": 1234567.89, "OrderId": "o-1",
    "Products": [{"ProductId": "p-1", "ItemCount": 3, "ItemPrice": 411522.63,
                  "ItemDiscount": 0.0}],
    "PaymentType": "Paypal",
}


def purchase_json(**changes) -> bytes:
    return json.dumps({**PURCHASE, **changes}).encode()


def kafka_batch(values: list[bytes | None], offsets=None, partitions=None) -> pa.RecordBatch:
    offsets = offsets or list(range(len(values)))
    partitions = partitions or [0] * len(values)
    return pa.RecordBatch.from_pylist(
        [{"value": v, "kafka_partition": p, "kafka_offset": o, "kafka_timestamp": KAFKA_TIME}
         for v, p, o in zip(values, partitions, offsets)],
        schema=layout.arrow_schema(layout.KAFKA_RECORD_SCHEMA))


def test_a_valid_purchase_keeps_every_field_exactly():
    row, reason = validate_value(purchase_json())
    assert reason is None
    assert row == {
        "SessionId": "s-1", "TimeStamp": datetime(2025, 6, 2, 1, 30, tzinfo=UTC),  # to UTC
        "UserId": "u-1", "TotalPrice": Decimal("1234567.89"), "OrderId": "o-1",
        "Products": [{"ProductId": "p-1", "ItemCount": 3, "ItemPrice": Decimal("411522.63"),
                      "ItemDiscount": Decimal("0.00")}],
        "PaymentType": "Paypal",
    }
    assert type(row["PaymentType"]) is str


def test_what_the_api_accepts_the_stream_accepts():
    # The API's Kafka value of a validated purchase is valid for the stream, by construction.
    purchase = Purchase.model_validate_json(purchase_json())
    assert validate_value(kafka_value(purchase))[1] is None


@pytest.mark.parametrize("value, reason", [
    (b"not json", "record: Invalid JSON"),
    (b"\xff\xfe", "record: Invalid JSON"),
    (None, "record: the Kafka record has no value"),
    (purchase_json(TotalPrice=1.0), "TotalPrice: TotalPrice must equal the sum"),
    (purchase_json(PaymentType="Cheque"), "PaymentType: Input should be"),
    (purchase_json(Products=[]), "Products: List should have at least 1 item"),
    (purchase_json(OrderId=""), "OrderId: String should have at least 1 character"),
    (purchase_json(TotalPrice="1234567.89"), "TotalPrice: Input should be a valid number"),
])
def test_a_bad_record_gets_a_reason_naming_what_is_wrong(value, reason):
    row, why = validate_value(value)
    assert row is None
    assert why.startswith(reason), why


def test_validated_batch_has_the_declared_schema_and_keeps_bad_bytes():
    out = validate_batch(kafka_batch([purchase_json(), b"\xff"]))
    assert out.schema == layout.VALIDATED_ARROW
    good, bad = out.to_pylist()
    assert good["value"] is None and good["reason"] is None and good["OrderId"] == "o-1"
    assert bad["value"] == b"\xff" and bad["reason"].startswith("record:")
    assert bad["OrderId"] is None and bad["kafka_offset"] == 1


def test_split_puts_valid_rows_in_the_raw_layout_and_bad_ones_in_quarantine():
    validated = pa.Table.from_batches([validate_batch(kafka_batch(
        [purchase_json(OrderId="b"), b"{}", purchase_json(OrderId="a")],
        offsets=[7, 5, 3], partitions=[1, 1, 0]))])
    raw, quarantine = split(validated, TOPIC_ID)
    assert raw.schema == layout.RAW_ARROW
    assert raw.schema.names == [*layout.PURCHASE.names, *layout.LINEAGE_COLUMNS]
    assert raw.column("OrderId").to_pylist() == ["a", "b"]  # Kafka order
    assert raw.column("kafka_topic_id").to_pylist() == [TOPIC_ID, TOPIC_ID]
    assert quarantine.schema == layout.QUARANTINE_ARROW
    assert quarantine.to_pylist()[0]["value"] == b"{}"


def test_the_parquet_schema_is_the_contracts():
    raw, _ = split(pa.Table.from_batches([validate_batch(kafka_batch([purchase_json()]))]), "t")
    buffer = io.BytesIO()
    pq.write_table(raw, buffer)
    read = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert read.schema.field("TotalPrice").type == pa.decimal128(16, 2)
    assert read.schema.field("TimeStamp").type == pa.timestamp("us", tz="UTC")
    assert read.schema.field("kafka_partition").type == pa.int32()
    assert read.column("Products").to_pylist()[0][0]["ItemPrice"] == Decimal("411522.63")


class Commits:
    """What a BatchWriter commits: (table area, the files' rows' Kafka coordinates, marks)
    in order, the files read back from the folder standing in for the bucket."""

    def __init__(self, store: LocalStore):
        self.store = store
        self.made: list[tuple[str, list[tuple[int, int]], dict[int, int]]] = []

    def __call__(self, table, files, marks):
        folder = self.store.folder(table)
        rows = pa.concat_tables([pq.read_table(f"{folder}/{f.path}") for f in files])
        assert sum(f.records for f in files) == rows.num_rows
        self.made.append((table.area, sorted(zip(rows["kafka_partition"].to_pylist(),
                                                   rows["kafka_offset"].to_pylist())), marks.ends))


@pytest.fixture
def commits(tmp_path) -> Commits:
    return Commits(LocalStore(str(tmp_path)))


def writer(commits: Commits, marks: dict | None = None) -> BatchWriter:
    empty = {area: Marks("PurchasedItem", TOPIC_ID) for area in ("raw", "quarantine")}
    return BatchWriter(commits, commits.store, "scratch/", {**empty, **(marks or {})}, TOPIC_ID)


def test_a_batch_commits_quarantine_first_then_raw_with_marks_over_the_whole_batch(commits):
    values = [purchase_json(OrderId="x"), b"oops", purchase_json(OrderId="y")]
    writer(commits).write(pa.Table.from_batches([validate_batch(kafka_batch(
        values, offsets=[10, 11, 4], partitions=[0, 0, 1]))]))
    assert commits.made == [
        ("quarantine", [(0, 11)], {0: 12}),
        ("raw", [(0, 10), (1, 4)], {0: 12, 1: 5}),  # the quarantined record is covered too
    ]


def test_a_replayed_batch_commits_nothing_and_a_partly_written_one_only_the_rest(tmp_path):
    values = [purchase_json(OrderId=str(i)) for i in range(4)] + [b"bad"]
    batch = pa.Table.from_batches([validate_batch(kafka_batch(
        values, offsets=[4, 2, 9, 1, 0], partitions=[0, 1, 0, 2, 1]))])
    commits = Commits(LocalStore(str(tmp_path / "first")))
    batch_writer = writer(commits)
    batch_writer.write(batch)
    batch_writer.write(batch.take([4, 3, 1, 0, 2]))  # replayed, rows in another order
    assert [area for area, _, _ in commits.made] == ["quarantine", "raw"]
    # A crash after the quarantine commit: the replay writes the raw rows only.
    crashed = Commits(LocalStore(str(tmp_path / "replay")))
    writer(crashed, {"quarantine": Marks("PurchasedItem", TOPIC_ID, {1: 1})}).write(batch)
    assert [area for area, _, _ in crashed.made] == ["raw"]


def test_a_stream_without_checkpoint_starts_at_the_raw_marks_else_the_earliest():
    topic = TopicDescription("PurchasedItem", TOPIC_ID, [0, 1, 2])
    assert json.loads(starting_offsets(topic, Marks("PurchasedItem", TOPIC_ID, {0: 12, 2: 7}))) \
        == {"PurchasedItem": {"0": 12, "1": -2, "2": 7}}


def test_split_refuses_a_table_of_another_shape():
    with pytest.raises(ValueError, match="expected the validated schema"):
        split(pa.table({"x": [1]}), TOPIC_ID)


def test_config_defaults_and_bad_arguments(capsys):
    config = parse_args([])
    assert (config.topic, config.root, config.trigger_seconds) == ("PurchasedItem", "", 10.0)
    # under the active profile's state folder: `.stack/`, or `.stack/cluster/`
    assert config.checkpoint.relative_to(STACK_DIR).parts == ("data", "purchase-stream",
                                                              "checkpoint")
    assert parse_args(["--root", "t/1/", "--topic", "x"]).root == "t/1/"
    with pytest.raises(SystemExit):
        parse_args(["--root", "no-slash"])
    assert "root must be empty or a relative prefix ending in '/'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="trigger_seconds must be positive"):
        StreamConfig(trigger_seconds=0)


def test_a_scratch_run_passes_its_whole_config_to_the_job(tmp_path):
    config = StreamConfig(topic="t", root="scratch/1/", checkpoint=tmp_path / "c",
                          progress_file=tmp_path / "p.json", trigger_seconds=1.5,
                          max_offsets_per_trigger=7)
    argv = job_argv(config)
    assert Path(argv[1]).name == "purchases_to_lake.py"
    assert parse_args(argv[2:]) == config


PROGRESS = {
    "batchId": 12, "timestamp": "2025-06-01T12:00:03.123Z", "numInputRows": 51,
    "inputRowsPerSecond": 5.1, "processedRowsPerSecond": 30.0,
    "durationMs": {"triggerExecution": 1700},
    "sources": [{"endOffset": '{"PurchasedItem":{"0":100,"1":90,"2":80}}',
                 "latestOffset": '{"PurchasedItem":{"0":120,"1":90,"2":80}}'}],
}


def test_progress_summary_and_lag(tmp_path):
    line = progress.summary(PROGRESS)
    assert line["end_offsets"] == {"PurchasedItem": {"0": 100, "1": 90, "2": 80}}
    latest = {("PurchasedItem", 0): 103, ("PurchasedItem", 1): 90, ("PurchasedItem", 2): 84}
    lag = progress.behind(line["end_offsets"], latest)
    assert lag == 7
    path = tmp_path / "p.json"
    write_atomically(path, json.dumps(line))
    assert json.loads(path.read_text()) == line


def test_a_new_incarnation_knows_how_far_the_last_batch_saw_the_old_one(tmp_path):
    path = tmp_path / "p.json"
    write_atomically(path, json.dumps(progress.summary(PROGRESS, topic_id="old-id")))
    # the topic's end offsets at the last planning, where they ran past the batch's end
    assert progress.last_seen_ends(path, "PurchasedItem", "old-id") == {0: 120, 1: 90, 2: 80}
    assert progress.last_seen_ends(path, "PurchasedItem", "new-id") == {}
    assert progress.last_seen_ends(tmp_path / "none.json", "PurchasedItem", "old-id") == {}


def test_a_checkpoint_of_another_incarnation_is_moved_aside_and_the_old_id_named(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    assert resume.guard_checkpoint(checkpoint, "a") is None  # first run: nothing to settle
    resume.remember_incarnation(checkpoint, "a")
    checkpoint.mkdir()
    assert resume.guard_checkpoint(checkpoint, "a") is None and checkpoint.exists()
    assert resume.guard_checkpoint(checkpoint, "b") == "a"
    assert not checkpoint.exists() and (tmp_path / "checkpoint.topic-a").is_dir()
    # Until the old incarnation is settled and the new one remembered, a start names it
    # again (a start that died midway settles it again).
    assert resume.guard_checkpoint(checkpoint, "b") == "a"
    resume.remember_incarnation(checkpoint, "b")
    assert resume.guard_checkpoint(checkpoint, "b") is None


def test_supervisor_events_that_count_as_failures():
    killed = alert.parse_payload("processname:purchase-stream groupname:purchase-stream "
                                 "from_state:RUNNING expected:0 pid:123")
    assert killed == {"processname": "purchase-stream", "groupname": "purchase-stream",
                      "from_state": "RUNNING", "expected": "0", "pid": "123"}
    assert alert.is_failure("PROCESS_STATE_EXITED", killed, "purchase-stream")
    assert not alert.is_failure("PROCESS_STATE_EXITED", {**killed, "expected": "1"},
                                "purchase-stream")
    assert not alert.is_failure("PROCESS_STATE_EXITED", killed, "api")
    assert alert.is_failure("PROCESS_STATE_FATAL", {"processname": "purchase-stream"},
                            "purchase-stream")
    message = alert.failure_message("PROCESS_STATE_EXITED", killed, KAFKA_TIME)
    assert message["program"] == "purchase-stream" and "pid 123" in message["message"]


def test_one_alert_per_streak_of_failures():
    streak = alert.FailureStreak()
    assert streak.failed(100.0, last_batch_at=50.0)       # first death: alert
    assert not streak.failed(130.0, last_batch_at=50.0)   # restarts keep dying: quiet
    assert not streak.failed(160.0, last_batch_at=None)
    assert streak.failed(300.0, last_batch_at=200.0)      # it ran a batch, then died: alert
    assert not streak.failed(310.0, last_batch_at=200.0)


def test_the_stream_service(settings):
    from apps.stack.services import ALL, stream
    from apps.stack.supervisor import program_section

    assert [s.name for s in ALL].index("stream") < [s.name for s in ALL].index("generator")
    assert stream.SERVICE.host_process and set(stream.SERVICE.needs) == {"kafka", "s3", "spark"}
    job, listener = stream.programs(settings)
    assert job.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert Path(job.argv[1]).name == "purchases_to_lake.py"
    section = program_section(listener)
    assert section.startswith("[eventlistener:purchase-stream-alert]")
    assert "events=PROCESS_STATE_EXITED,PROCESS_STATE_FATAL" in section
    assert "redirect_stderr" not in section  # supervisord refuses it for a listener


def test_a_start_past_acknowledged_gaps_is_lenient_only_until_a_batch_passes_them():
    ends = {"PurchasedItem": {"0": 120, "1": 40}}
    assert resume.passed_gaps(ends, "PurchasedItem", {0: 120})
    assert not resume.passed_gaps(ends, "PurchasedItem", {0: 121})
    assert not resume.passed_gaps(ends, "PurchasedItem", {2: 1})  # no offset for it yet
    assert resume.passed_gaps(ends, "PurchasedItem", {})
    topic = TopicDescription("PurchasedItem", "id", [0, 1])
    strict = resume.StartPoint(topic, {}, "{}")
    assert strict.fail_on_data_loss
    assert not resume.StartPoint(topic, {}, "{}", gaps={0: 120}).fail_on_data_loss
