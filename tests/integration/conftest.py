"""Integration tests run against the real native stack that `invoke up` started."""

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
