"""Integration tests run against the real native stack that `invoke up` started."""

import pytest

from apps.settings import Settings, get_settings
from apps.stack.runtime import choose
from apps.stack.services import ALL
from apps.stack.up import wait_healthy

SERVERS = [s for s in ALL if not s.host_process]


@pytest.fixture(scope="session")
def stack() -> Settings:
    settings = get_settings()
    down = [f"{s.name} ({reason})" for s in SERVERS if (reason := s.health(settings).check())]
    if down:
        pytest.fail("the stack is not up, run `invoke up` first: " + "; ".join(down))
    return settings


class ServiceControl:
    """Stop and start a service's supervised programs, as a fault would."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.runtime = choose(settings)
        self.services = {s.name: s for s in ALL}
        self.stopped: list[str] = []

    def stop(self, name: str) -> None:
        self.stopped.append(name)
        for program in self.services[name].programs(self.settings):
            self.runtime.supervisor.stop(program.name)

    def start(self, name: str) -> None:
        """Start the service again and return once it is healthy."""
        service = self.services[name]
        self.runtime.start(service, self.settings)
        wait_healthy(service, service.health(self.settings), self.settings)


@pytest.fixture
def service_control(stack):
    control = ServiceControl(stack)
    yield control
    for name in control.stopped:  # never leave a server down for the tests that follow
        control.start(name)
