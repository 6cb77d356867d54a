"""Integration tests run against the real native stack that `invoke up` started."""

import json
import threading
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
