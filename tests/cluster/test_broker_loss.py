"""A Kafka broker killed with SIGKILL while the API takes a stream of PUTs, and kept down
longer than fencing plus the API's ack timeout: every record answered 202 is in Kafka
exactly once, and a 503 comes only between the kill and the end of that window (then
the two other brokers take every write: two replicas in sync suffice)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import TopicPartition

from apps.api.local_server import running_api
from apps.contract.models import (
    PURCHASES_TOPIC,
    TOPIC_PARTITIONS,
    USER_EVENTS_TOPIC,
    kafka_value,
)
from apps.generator.traffic import TrafficBuilder
from apps.purchase_stream.progress import topic_end_offsets
from apps.stack.services import kafka
from tests.integration.test_api_kafka import read_between

SENDERS, SECONDS, KILL_AT_S, DOWN_S = 4, 50.0, 10.0, 25.0
SLACK_S = 3.0  # the restarted broker's JVM, and the clients' metadata refresh


@dataclass(frozen=True)
class Answer:
    value: bytes
    status: int
    sent: float  # monotonic
    answered: float


def admin(settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})


def min_insync_of(settings, topic: str) -> str:
    client = admin(settings)  # held until the answer came: a collected client drops it
    [future] = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return future.result()["min.insync.replicas"].value


def partitions_of(settings, topic: str) -> list:
    return list(kafka.metadata(settings.kafka_bootstrap_servers).topics[topic].partitions.values())


def read_all(settings, topic: str) -> Counter:
    """Every value in the topic, from its first offset to its end."""
    ends = {TopicPartition(t, p): end for (t, p), end in topic_end_offsets(settings, [topic]).items()}
    return Counter(value for _, _, value in read_between(settings, dict.fromkeys(ends, 0), ends))


def test_the_pipelines_topics_are_on_three_brokers_two_in_sync(cluster):
    for topic in (USER_EVENTS_TOPIC, PURCHASES_TOPIC):
        assert {len(p.replicas) for p in partitions_of(cluster, topic)} == {3}
        assert min_insync_of(cluster, topic) == "2"


def test_a_killed_broker_loses_no_accepted_record(cluster, service_control, tmp_path):
    events_topic = f"tests-broker-loss-{uuid.uuid4().hex[:8]}"
    purchases_topic = f"{events_topic}-purchases"
    client = admin(cluster)
    created = client.create_topics([
        NewTopic(t, TOPIC_PARTITIONS, kafka.replicas(cluster),
                 config={"min.insync.replicas": str(kafka.min_insync(cluster))})
        for t in (events_topic, purchases_topic)])
    for future in created.values():
        future.result()
    try:
        # A broker that leads partitions of the topic, and not the first bootstrap address.
        victim = next(n for n in kafka.nodes(cluster)[1:]
                      if n.node_id in {p.leader for p in partitions_of(cluster, events_topic)})
        events = TrafficBuilder(seed=19019, users=200, products=50).batch(20_000).events
        queue = iter(events)
        answers: list[Answer] = []
        with running_api(cluster, tmp_path / "api.log",
                         environment={"KAFKA_USER_EVENTS_TOPIC": events_topic,
                                      "KAFKA_PURCHASES_TOPIC": purchases_topic}) as api:
            api.wait_for_health(200)
            began = time.monotonic()

            def send() -> None:
                with httpx.Client(timeout=60) as client:
                    while time.monotonic() - began < SECONDS:
                        value = kafka_value(next(queue))
                        sent = time.monotonic()
                        status = client.put(f"{api.url}/SendEvent", content=value,
                                            headers={"content-type": "application/json"}
                                            ).status_code
                        answers.append(Answer(value, status, sent, time.monotonic()))

            with ThreadPoolExecutor(SENDERS) as pool:
                senders = [pool.submit(send) for _ in range(SENDERS)]
                time.sleep(KILL_AT_S)
                supervisor = service_control.runtime.supervisor
                killed_at = time.monotonic()
                os.kill(supervisor.info()[victim.program]["pid"], signal.SIGKILL)
                supervisor.stop(victim.program)  # held down: supervisord would restart it
                time.sleep(DOWN_S)
                service_control.start("kafka")
                for sender in senders:
                    sender.result()

        in_kafka = read_all(cluster, events_topic)
        statuses = Counter(a.status for a in answers)
        assert set(statuses) <= {202, 503}, statuses
        accepted = [a for a in answers if a.status == 202]
        assert [a for a in accepted if in_kafka[a.value] != 1] == []
        assert [a for a in answers if in_kafka[a.value] > 1] == []
        assert sum(in_kafka.values()) <= len(answers)  # nothing in Kafka that was not sent
        # 503s only from the kill through fencing and one ack timeout.
        config = kafka.properties(kafka._server_properties(cluster, victim).text)
        fenced = int(config["broker.session.timeout.ms"]) / 1000
        window_end = killed_at + fenced + cluster.api_kafka_ack_timeout + SLACK_S
        refused = [a for a in answers if a.status == 503]
        assert [a for a in refused if not killed_at <= a.answered <= window_end] == []
        after = [a for a in accepted if a.sent > window_end]
        assert after, "no record was accepted after the window: the API did not recover"
        slowest = max(a.answered - a.sent for a in answers)
        print(f"\n{len(answers):,} PUTs: {statuses[202]:,} accepted, {statuses[503]:,} refused "
              f"(503, allowed within {window_end - killed_at:.0f} s of the kill); broker "
              f"{victim.node_id} killed at t+{killed_at - began:.1f} s, down {DOWN_S:.0f} s; "
              f"slowest answer {slowest:.1f} s; {sum(in_kafka.values()):,} records in Kafka")
    finally:
        for future in client.delete_topics([events_topic, purchases_topic]).values():
            future.result()
