"""Integration tests run against the real native stack that `invoke up` started."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.settings import Settings, get_settings
from apps.stack.control import ServiceControl
from apps.stack.services import ALL

SERVERS = [s for s in ALL if not s.host_process]


@pytest.fixture(scope="session")
def stack() -> Settings:
    settings = get_settings()
    down = [f"{s.name} ({reason})" for s in SERVERS if (reason := s.health(settings).check())]
    if down:
        pytest.fail("the stack is not up, run `invoke up` first: " + "; ".join(down))
    return settings


@pytest.fixture
def service_control(stack):
    control = ServiceControl(stack)
    yield control
    control.restore()  # never leave a server down for the tests that follow


@pytest.fixture
def webhook():
    """A webhook on 127.0.0.1: (its URL, the JSON messages it received so far)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alert", received
    server.shutdown()


def recreate(settings: Settings, topic: str) -> None:
    """Delete `topic` and create it again: a new incarnation (a new topic id)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from apps.contract.models import TOPIC_PARTITIONS
    from apps.kafka_admin import describe_topic

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        before = describe_topic(settings, topic).topic_id
        admin.delete_topics([topic])
        deadline = time.monotonic() + 60
        while True:
            try:
                admin.create_topics([NewTopic(topic, TOPIC_PARTITIONS, 1)])
                break
            except Exception:  # TopicAlreadyExists while the deletion completes
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        while True:
            try:
                if describe_topic(settings, topic).topic_id != before:
                    return
            except Exception:  # not yet known to the broker
                pass
            time.sleep(0.5)
    finally:
        admin.close()


@pytest.fixture
def recreate_topic():
    return recreate
