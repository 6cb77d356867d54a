"""The API's Prometheus metrics (served as text on `/metrics`)."""

from functools import lru_cache

from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

REQUESTS = Counter(
    "shopstream_api_requests", "Ingestion requests answered, by endpoint and status",
    ["endpoint", "status"])
RECORDS_ACCEPTED = Counter(
    "shopstream_api_records_accepted", "Records acknowledged by Kafka, by topic", ["topic"])
RECORDS_REJECTED = Counter(
    "shopstream_api_records_rejected",
    "Records refused, by reason (a body that cannot be read counts as one record)", ["reason"])
KAFKA_ACK_SECONDS = Histogram(
    "shopstream_api_kafka_ack_seconds",
    "Time from handing a request's records to the producer until Kafka acknowledged all",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


@lru_cache(maxsize=256)
def child(metric: MetricWrapperBase, *labels: str | int):
    """`metric.labels(*labels)`, looked up once: on the hot path `labels()` costs more than
    the increment itself."""
    return metric.labels(*labels)
