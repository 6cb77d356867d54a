"""Each server of the stack is real: a round trip through its own client protocol."""

import io
import uuid

import httpx
import psycopg2
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from pymongo import MongoClient

from apps.mongo import INDEXES, USER_EVENT_COUNTS
from apps.stack.services.s3 import minio_client

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_topic(stack):
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_servers)
    admin.create_topics([NewTopic(name, 3, 1)])
    yield name
    admin.delete_topics([name])
    admin.close()


def produce(stack, topic: str, records: dict[bytes, bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=stack.kafka_servers, acks="all")
    for key, value in records.items():
        producer.send(topic, key=key, value=value).get(timeout=30)
    producer.close()


def test_kafka_round_trip(stack, scratch_topic):
    sent = {f"user-{i}".encode(): f'{{"n": {i}}}'.encode() for i in range(10)}
    produce(stack, scratch_topic, sent)
    consumer = KafkaConsumer(scratch_topic, bootstrap_servers=stack.kafka_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000)
    received = {m.key: m.value for _, m in zip(range(len(sent)), consumer)}
    consumer.close()
    assert received == sent


def test_mongo_insert_and_find(stack):
    database = f"test_{uuid.uuid4().hex[:12]}"
    with MongoClient(stack.mongo_url) as client:
        try:
            client[database].things.insert_many([{"_id": i, "v": i * i} for i in range(5)])
            found = list(client[database].things.find({"v": {"$gte": 4}}).sort("_id", 1))
            assert found == [{"_id": 2, "v": 4}, {"_id": 3, "v": 9}, {"_id": 4, "v": 16}]
        finally:
            client.drop_database(database)


def test_mongo_holds_shopstreams_collections_and_indexes(stack):
    with MongoClient(stack.mongo_url) as client:
        db = client[stack.mongo_db]
        assert set(INDEXES) <= set(db.list_collection_names())
        unique = db[USER_EVENT_COUNTS].index_information()["user_event_unique"]
        assert unique["key"] == [("UserId", 1), ("EventName", 1)] and unique["unique"]


def test_s3_put_and_get(stack):
    client = minio_client(stack)
    assert client.bucket_exists(stack.s3_bucket)
    key = f"tests/{uuid.uuid4().hex}.bin"
    payload = uuid.uuid4().bytes * 1000
    client.put_object(stack.s3_bucket, key, io.BytesIO(payload), len(payload))
    try:
        assert client.get_object(stack.s3_bucket, key).read() == payload
    finally:
        client.remove_object(stack.s3_bucket, key)


def test_s3_refuses_a_wrong_secret(stack):
    from minio import Minio
    from minio.error import S3Error

    wrong = Minio(stack.s3_host, access_key=stack.s3_access_key, secret_key="wrong-secret",
                  secure=stack.s3_secure)
    with pytest.raises(S3Error) as error:
        wrong.list_buckets()
    assert error.value.code == "SignatureDoesNotMatch"


def test_postgres_query_and_schema(stack):
    with psycopg2.connect(stack.postgres_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_user, 6 * 7")
        assert cur.fetchone() == ("shopstream", "shopstream", 42)
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' ORDER BY table_name")
        assert [r[0] for r in cur.fetchall()] == [
            "analysis_refreshes", "payment_types", "repeat_purchases", "top_customers_last_hour",
            "top_products"]
    conn.close()


def test_airflow_api_is_healthy_and_guarded(stack):
    base = stack.airflow_url.rstrip("/")
    health = httpx.get(f"{base}/api/v2/monitor/health", timeout=10).json()
    components = ("metadatabase", "scheduler", "dag_processor")
    assert {c: health[c]["status"] for c in components} == dict.fromkeys(components, "healthy")
    assert httpx.get(f"{base}/api/v2/dags", timeout=10).status_code == 401
    refused = httpx.post(f"{base}/auth/token", timeout=10,
                         json={"username": stack.airflow_admin_user, "password": "wrong"})
    assert refused.status_code == 401
    token = httpx.post(f"{base}/auth/token", timeout=10, json={
        "username": stack.airflow_admin_user,
        "password": stack.airflow_admin_password.get_secret_value()}).json()["access_token"]
    dags = httpx.get(f"{base}/api/v2/dags", timeout=10,
                     headers={"Authorization": f"Bearer {token}"})
    assert dags.status_code == 200


def test_spark_reads_kafka_and_round_trips_parquet_on_s3(stack, spark, scratch_topic):
    sent = {f"user-{i}".encode(): f'{{"n": {i}}}'.encode() for i in range(20)}
    produce(stack, scratch_topic, sent)
    records = (spark.read.format("kafka")
               .option("kafka.bootstrap.servers", stack.kafka_bootstrap_servers)
               .option("subscribe", scratch_topic).load()
               .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value"))
    path = f"s3a://{stack.s3_bucket}/tests/{scratch_topic}"
    records.write.mode("overwrite").parquet(path)
    read_back = {r.key.encode(): r.value.encode() for r in spark.read.parquet(path).collect()}
    assert read_back == sent
    client = minio_client(stack)
    for obj in client.list_objects(stack.s3_bucket, prefix=f"tests/{scratch_topic}/",
                                   recursive=True):
        client.remove_object(stack.s3_bucket, obj.object_name)


def test_kafka_storage_formats_with_a_cluster_id_that_begins_with_a_dash(stack, tmp_path):
    """`new_cluster_id()` never draws such an id; the format command takes one anyway."""
    import subprocess

    from apps.stack.services import kafka

    config = tmp_path / "server.properties"
    config.write_text(kafka._server_properties(stack, data_dir=tmp_path / "data").text)
    cluster = kafka.cluster_id(b"\xf8" + bytes(15))
    assert cluster.startswith("-")
    result = subprocess.run(kafka.format_command(str(config), cluster),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"cluster.id={cluster}" in (tmp_path / "data" / "meta.properties").read_text()
