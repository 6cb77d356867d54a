"""The purchase stream against real Kafka, the real S3 store and real Spark.

Each test has its own topic, lake prefix and checkpoint (never `raw/`), and runs the
stream's query in the test run's one local[1] session until the topic is drained. The
lake is read by `deltalake` itself (not the project's reader) and by Spark.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow.compute as pc
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from apps.contract.models import TOPIC_PARTITIONS, Purchase, kafka_key, kafka_value
from apps.generator.traffic import TrafficBuilder
from apps.purchase_stream import query
from apps.purchase_stream.config import StreamConfig
from apps.analysis.lake import read_lake
from apps.kafka_admin import describe_topic
from apps.lake.tables import QUARANTINE_TABLE, RAW_TABLE, storage_options
from apps.purchase_stream.store import remove_prefix, s3a_url
from apps.settings import Settings, get_settings
from apps.stack.services import kafka, s3

pytestmark = pytest.mark.integration

N = 400
DAY = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def lake_servers() -> Settings:
    """Kafka and the S3 store answer: all the stream needs (the rest of the stack may be off)."""
    settings = get_settings()
    down = [f"{s.name} ({why})" for s in (kafka.SERVICE, s3.SERVICE)
            if (why := s.health(settings).check())]
    if down:
        pytest.fail("run `invoke up` first: " + "; ".join(down))
    return settings


def expected_row(p: Purchase) -> dict:
    """What the lake must hold for a purchase: its fields, money as exact cents."""
    cents = lambda amount: Decimal(f"{amount:.2f}")  # noqa: E731
    return {
        "SessionId": p.SessionId, "TimeStamp": p.TimeStamp, "UserId": p.UserId,
        "TotalPrice": cents(p.TotalPrice), "OrderId": p.OrderId,
        "Products": [{"ProductId": x.ProductId, "ItemCount": x.ItemCount,
                      "ItemPrice": cents(x.ItemPrice), "ItemDiscount": cents(x.ItemDiscount)}
                     for x in p.Products],
        "PaymentType": p.PaymentType.value,
    }


def purchases(n: int, seed: int, days: int = 3) -> list[Purchase]:
    """Distinct valid purchases spread over `days` days from DAY (so as many dt folders)."""
    base = TrafficBuilder(seed, users=200, products=100).batch(n).purchases
    return [p.model_copy(update={"OrderId": f"o-{seed}-{i}",
                                 "TimeStamp": DAY + timedelta(days=i % days, seconds=i)})
            for i, p in enumerate(base)]


class Scratch:
    """A topic, lake prefix and checkpoint of the test's own."""

    def __init__(self, settings, tmp_path):
        self.settings = settings
        name = uuid.uuid4().hex[:12]
        self.config = StreamConfig(topic=f"test-purchases-{name}", root=f"tests/stream-{name}/",
                                   checkpoint=tmp_path / "checkpoint",
                                   progress_file=tmp_path / "progress.json")
        self.admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
        self.admin.create_topics([NewTopic(self.config.topic, TOPIC_PARTITIONS, 1)])
        self.producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all")
        self.coordinates: dict[bytes | None, tuple[int, int]] = {}

    def send(self, values: list[bytes | None], keys: list[bytes] | None = None) -> list:
        futures = [self.producer.send(self.config.topic, key=k, value=v)
                   for v, k in zip(values, keys or [b"k"] * len(values))]
        return [(f.get(timeout=30).partition, f.get(timeout=30).offset) for f in futures]

    def send_purchases(self, sent: list[Purchase]) -> dict[str, tuple[int, int]]:
        where = self.send([kafka_value(p) for p in sent], [kafka_key(p) for p in sent])
        return {p.OrderId: coordinates for p, coordinates in zip(sent, where)}

    def drain(self, spark) -> None:
        """Run the stream's query until it has taken everything in the topic."""
        stream = query.start(spark, self.settings, self.config, available_now=True)
        stream.awaitTermination()
        assert stream.exception() is None

    def read(self, area: str):
        """The table's latest version, read by the `deltalake` library itself."""
        from deltalake import DeltaTable

        table = {"raw": RAW_TABLE, "quarantine": QUARANTINE_TABLE}[area].under(self.config.root)
        return DeltaTable(table.uri(self.settings),
                          storage_options=storage_options(self.settings)).to_pyarrow_table()

    def close(self) -> None:
        self.producer.close()
        self.admin.delete_topics([self.config.topic])
        self.admin.close()
        remove_prefix(self.settings, self.config.root)


@pytest.fixture(scope="module")
def landed(lake_servers, spark, tmp_path_factory):
    """N purchases with poison records between them, streamed once into a scratch lake."""
    scratch = Scratch(lake_servers, tmp_path_factory.mktemp("stream"))
    sent = purchases(N, seed=1)
    poison = [b"not json", b"\xff\xfe\x00", None,
              kafka_value(sent[0]).replace(b'"TotalPrice":', b'"TotalPrice":1000000,"X":'),
              b'{"OrderId": "o-x"}']
    coordinates = scratch.send_purchases(sent[: N // 2])
    poisoned = dict(zip(range(len(poison)), scratch.send(poison)))
    coordinates |= scratch.send_purchases(sent[N // 2:])
    scratch.drain(spark)
    yield scratch, sent, coordinates, poison, poisoned
    scratch.close()


def test_every_purchase_is_one_row_read_by_pyarrow_every_field_equal(landed):
    scratch, sent, coordinates, *_ = landed
    table = scratch.read("raw")
    assert table.num_rows == N
    rows = {r["OrderId"]: r for r in table.to_pylist()}
    assert len(rows) == N
    for purchase in sent:
        row = rows[purchase.OrderId]
        assert {k: row[k] for k in expected_row(purchase)} == expected_row(purchase)
        assert (row["kafka_partition"], row["kafka_offset"]) == coordinates[purchase.OrderId]
        assert str(row["dt"]) == purchase.TimeStamp.date().isoformat()


def test_poison_records_go_to_quarantine_with_a_reason(landed):
    scratch, _, _, poison, poisoned = landed
    table = scratch.read("quarantine")
    found = {(r["kafka_partition"], r["kafka_offset"]): r for r in table.to_pylist()}
    assert set(found) == set(poisoned.values())
    for i, value in enumerate(poison):
        row = found[poisoned[i]]
        assert row["value"] == value
    reasons = [found[poisoned[i]]["reason"] for i in range(len(poison))]
    assert reasons[0].startswith("record: Invalid JSON")
    assert reasons[1].startswith("record: Invalid JSON")
    assert reasons[2] == "record: the Kafka record has no value"
    assert reasons[3].startswith("X: Extra inputs are not permitted")
    assert reasons[4].startswith("SessionId: Field required")


def test_spark_reads_exactly_the_files_of_the_tables_version(landed, spark):
    from pyspark.sql import functions as F

    scratch, sent, *_ = landed
    lake = read_lake(spark, s3a_url(scratch.settings, f"{scratch.config.root}raw/"),
                     scratch.settings)
    frame = lake.purchases
    assert dict(frame.dtypes)["TotalPrice"] == "decimal(16,2)"
    assert dict(frame.dtypes)["TimeStamp"] == "timestamp"
    assert frame.count() == N
    assert sorted(r.OrderId for r in frame.select("OrderId").collect()) == \
        sorted(p.OrderId for p in sent)
    topic_id = describe_topic(scratch.settings, scratch.config.topic).topic_id
    assert {r.kafka_topic_id for r in frame.select("kafka_topic_id").distinct().collect()} == \
        {topic_id}
    days = frame.groupBy(F.to_date("TimeStamp").alias("day")).count().collect()
    assert {str(r.day): r["count"] for r in days} == {
        "2025-06-01": 134, "2025-06-02": 133, "2025-06-03": 133}


def test_a_restart_from_the_checkpoint_adds_nothing_and_takes_what_is_new(landed, spark):
    scratch, *_ = landed
    more = purchases(10, seed=2)
    scratch.send_purchases(more)
    scratch.drain(spark)
    table = scratch.read("raw")
    assert table.num_rows == N + 10
    assert len(set(table.column("OrderId").to_pylist())) == N + 10
    assert table.filter(pc.starts_with(table["OrderId"], "o-2-")).num_rows == 10


def test_a_new_checkpoint_on_the_existing_lake_starts_at_its_marks_and_doubles_nothing(
        landed, spark, tmp_path):
    """The checkpoint deleted (or a fresh clone on the same bucket): the stream starts where
    the lake's commits say it holds records, neither from the earliest nor the latest."""
    scratch, *_ = landed
    before = scratch.read("raw").num_rows
    scratch.config = StreamConfig(**{**scratch.config.__dict__,
                                     "checkpoint": tmp_path / "a-new-checkpoint"})
    scratch.send_purchases(purchases(7, seed=3))
    scratch.drain(spark)
    table = scratch.read("raw")
    assert table.num_rows == before + 7
    assert len(set(table.column("OrderId").to_pylist())) == before + 7
    quarantine = scratch.read("quarantine")
    assert quarantine.num_rows == len({(r["kafka_partition"], r["kafka_offset"])
                                       for r in quarantine.to_pylist()})


def test_a_plain_parquet_lake_becomes_the_tables_first_version_and_keeps_its_rows(
        lake_servers):
    """The lake as it was written before it was a Delta table (`dt=` folders, one object per
    batch, no topic id) is adopted whole; the next commit adds the topic id column."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from apps.lake import tables
    from apps.lake.marks import Marks
    from apps.purchase_stream.layout import RAW_ARROW
    from apps.stack.services.s3 import minio_client

    root = f"tests/adopt-{uuid.uuid4().hex[:10]}/"
    old_layout = pa.schema([f for f in RAW_ARROW if f.name != "kafka_topic_id"])
    rows = [expected_row(p) | {"kafka_partition": 0, "kafka_offset": i, "kafka_timestamp": DAY}
            for i, p in enumerate(purchases(6, seed=4))]
    client = minio_client(lake_servers)
    try:
        for batch, part in enumerate((rows[:4], rows[4:])):
            data = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(part, old_layout), data)
            key = f"{root}raw/dt={part[0]['TimeStamp']:%Y-%m-%d}/batch-{batch:012d}.parquet"
            client.put_object(lake_servers.s3_bucket, key, io.BytesIO(data.getvalue()),
                              len(data.getvalue()))
        table = RAW_TABLE.under(root)
        assert tables.adopt_plain_parquet(lake_servers, table)
        assert not tables.adopt_plain_parquet(lake_servers, table)  # once
        adopted = tables.read(lake_servers, table)
        assert sorted(adopted["OrderId"].to_pylist()) == sorted(r["OrderId"] for r in rows)

        new = pa.Table.from_pylist([rows[0] | {"OrderId": "o-new", "kafka_offset": 6,
                                                "kafka_topic_id": "t-1"}], RAW_ARROW)
        tables.append(lake_servers, table, new, Marks("T", "t-1").after(new))
        after = {r["OrderId"]: r["kafka_topic_id"]
                 for r in tables.read(lake_servers, table).to_pylist()}
        assert after == {**{r["OrderId"]: None for r in rows}, "o-new": "t-1"}
    finally:
        remove_prefix(lake_servers, root)


def test_records_deleted_before_the_stream_read_them_stop_it_loudly_until_acknowledged(
        lake_servers, spark, tmp_path, webhook, caplog):
    """Retention overtook a stopped stream: the lost range is stored, alerted once, and the
    job refuses to start (it would skip records silently) until it is acknowledged; then
    it skips that gap only, and a later loss fails it again."""
    import pymongo
    from kafka import TopicPartition

    from apps import losses
    from apps.mongo import DATA_LOSSES
    from apps.purchase_stream.resume import DataLost, prepare

    caplog.set_level(logging.INFO, logger="purchase_stream")
    url, received = webhook
    database = f"test_stream_losses_{uuid.uuid4().hex[:8]}"
    settings = lake_servers.model_copy(update={"mongo_db": database, "alert_webhook_url": url})
    scratch = Scratch(settings, tmp_path)
    mongo = pymongo.MongoClient(settings.mongo_url, tz_aware=True)
    try:
        first = scratch.send_purchases(purchases(30, seed=5))
        scratch.drain(spark)
        later = scratch.send_purchases(purchases(30, seed=6))
        ends = {p: max(o for q, o in later.values() if q == p) + 1 for p, _ in later.values()}
        [partition] = sorted(ends)[:1]
        marks = max(o for q, o in first.values() if q == partition) + 1
        cut = marks + (ends[partition] - marks) // 2
        scratch.admin.delete_records({TopicPartition(scratch.config.topic, partition): cut})

        with pytest.raises(DataLost, match=f"partition {partition} \\(offsets {marks}-{cut - 1}\\)"):
            query.start(spark, settings, scratch.config, available_now=True)
        [stored] = list(mongo[database][DATA_LOSSES].find())
        assert (stored["Source"], stored["Partition"], stored["FirstOffset"],
                stored["EndOffset"]) == ("purchase_stream", partition, marks, cut)
        assert [m["records"] for m in received] == [cut - marks]
        with pytest.raises(DataLost):  # still refused, alerted once only
            query.start(spark, settings, scratch.config, available_now=True)
        assert len(received) == 1

        losses.acknowledge(mongo[database][DATA_LOSSES], None, datetime.now(UTC))
        # The job's way: past the acknowledged gap leniently, then strict again. A trigger
        # long enough for the test to cut the log between two batches.
        config = replace(scratch.config, trigger_seconds=20)
        point = prepare(settings, config)
        assert point.gaps == {partition: cut} and not point.fail_on_data_loss
        failure: list[BaseException] = []

        def job():
            try:
                query.run(spark, settings, config, point, poll_seconds=0.5)
            except BaseException as exc:  # what the job's process would die of
                failure.append(exc)

        running = threading.Thread(target=job, daemon=True)
        running.start()
        kept = {o for o, (q, off) in later.items() if not (q == partition and off < cut)}
        deadline = time.monotonic() + 180
        while set(scratch.read("raw")["OrderId"].to_pylist()) != set(first) | kept:
            assert time.monotonic() < deadline and running.is_alive(), failure
            time.sleep(1)
        deadline = time.monotonic() + 60  # the lenient query stops once past the gap
        while "past the acknowledged losses" not in caplog.text:
            assert time.monotonic() < deadline and running.is_alive(), failure
            time.sleep(0.5)
        time.sleep(5)  # the strict query started, before its next trigger

        # A new loss while the job runs: records written and deleted before its next batch.
        again = scratch.send_purchases(purchases(5, seed=9))
        ends_now = {p: max(o for q, o in again.values() if q == p) + 1 for p, _ in again.values()}
        scratch.admin.delete_records({TopicPartition(config.topic, p): end
                                      for p, end in ends_now.items()})
        running.join(120)
        assert not running.is_alive(), "the strict query skipped the new loss"
        assert failure and "Some data may have been lost" in str(failure[0]), str(failure[0])[:1500]
        orders = set(scratch.read("raw")["OrderId"].to_pylist())
        assert orders == set(first) | kept
    finally:
        mongo.drop_database(database)
        mongo.close()
        scratch.close()


def test_a_recreated_topic_records_what_the_stream_never_wrote_of_the_old_one(
        lake_servers, spark, tmp_path, webhook, recreate_topic):
    """The topic deleted and created again while the stream was behind: the records of the
    old incarnation its last batch saw but it never wrote are stored as lost ("at least")
    and alerted once; the stream goes on with the new topic."""
    import json
    import time

    import pymongo

    from apps.losses import RECREATED
    from apps.mongo import DATA_LOSSES
    from apps.purchase_stream.listener import ProgressFile

    url, received = webhook
    database = f"test_stream_recreated_{uuid.uuid4().hex[:8]}"
    settings = lake_servers.model_copy(update={"mongo_db": database, "alert_webhook_url": url})
    scratch = Scratch(settings, tmp_path)
    # A batch takes 6 records, the next would come a minute later: the stream falls behind.
    scratch.config = replace(scratch.config, max_offsets_per_trigger=6, trigger_seconds=60)
    mongo = pymongo.MongoClient(settings.mongo_url, tz_aware=True)
    try:
        old = scratch.send_purchases(purchases(30, seed=7))
        old_id = describe_topic(settings, scratch.config.topic).topic_id
        listener = ProgressFile(scratch.config.progress_file, old_id)
        spark.streams.addListener(listener)
        try:
            stream = query.start(spark, settings, scratch.config)
            deadline = time.monotonic() + 300
            while not scratch.config.progress_file.exists():
                assert time.monotonic() < deadline and stream.exception() is None
                time.sleep(0.5)
            stream.stop()
        finally:
            spark.streams.removeListener(listener)
        written = scratch.read("raw")
        held = {(p, o) for p, o in zip(written["kafka_partition"].to_pylist(),
                                       written["kafka_offset"].to_pylist())}
        assert 0 < len(held) <= 6  # Spark shares the 6 between partitions, rounding down
        ends = {p: max(o for q, o in old.values() if q == p) + 1 for p, _ in old.values()}
        assert json.loads(scratch.config.progress_file.read_text())["topic_id"] == old_id

        recreate_topic(settings, scratch.config.topic)
        new = scratch.send_purchases(purchases(10, seed=8))
        scratch.drain(spark)

        stored = sorted(mongo[database][DATA_LOSSES].find(), key=lambda d: d["Partition"])
        expected = [(p, max((o + 1 for q, o in held if q == p), default=0), end)
                    for p, end in sorted(ends.items())]
        expected = [(p, first, end) for p, first, end in expected if end > first]
        assert [(d["Partition"], d["FirstOffset"], d["EndOffset"]) for d in stored] == expected
        assert {(d["Source"], d["TopicId"], d["AtLeast"], d["Reason"]) for d in stored} == {
            ("purchase_stream", old_id, True, RECREATED)}
        assert sum(d["Records"] for d in stored) == 30 - len(held)
        assert sorted(m["records"] for m in received) == sorted(d["Records"] for d in stored)
        orders = scratch.read("raw")["OrderId"].to_pylist()
        assert sorted(orders) == sorted([o for o, (p, off) in old.items() if (p, off) in held]
                                        + list(new))
        assert (tmp_path / f"checkpoint.topic-{old_id}").is_dir()  # kept, never deleted

        scratch.drain(spark)  # settled once: nothing stored or alerted again
        assert mongo[database][DATA_LOSSES].count_documents({}) == len(stored)
        assert len(received) == len(stored)
    finally:
        mongo.drop_database(database)
        mongo.close()
        scratch.close()
