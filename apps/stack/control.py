"""Stopping, starting and killing the stack's supervised programs, as a fault would
(integration tests, `invoke chaos`). Whoever stops a service starts it again."""

from __future__ import annotations

import os
import signal
import time

from apps.settings import Settings
from apps.stack.runtime import choose
from apps.stack.services import ALL
from apps.stack.up import wait_healthy

RESTART_DEADLINE_S = 180.0


class ServiceControl:
    """Stop and start a service's supervised programs; `stopped` lists what it stopped."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.runtime = choose(settings)
        self.services = {s.name: s for s in ALL}
        self.stopped: list[str] = []

    def stop(self, name: str) -> None:
        self.stopped.append(name)
        programs = self.services[name].programs(self.settings)
        # supervisord kills a program still running after its stop wait: a margin on top
        self.runtime.supervisor.stop_together([p.name for p in programs],
                                              max(p.stop_wait_seconds for p in programs) + 15)

    def start(self, name: str) -> None:
        """Start the service again and return once it is healthy."""
        self.runtime.start(self.services[name], self.settings)
        self.wait_healthy(name)

    def wait_healthy(self, name: str) -> None:
        service = self.services[name]
        wait_healthy(service, service.health(self.settings), self.settings)

    def restore(self) -> None:
        """Start again every service this control stopped (each once), healthy."""
        for name in dict.fromkeys(self.stopped):
            self.start(name)
        self.stopped.clear()

    def kill(self, program: str, deadline_s: float = RESTART_DEADLINE_S) -> tuple[int, int]:
        """`kill -9` a running program, then wait for supervisord to run it again:
        (the killed pid, the new pid)."""
        supervisor = self.runtime.supervisor
        info = supervisor.info().get(program)
        if not info or info["statename"] != "RUNNING":
            raise RuntimeError(f"{program} is not running ({info and info['statename']})")
        os.kill(info["pid"], signal.SIGKILL)
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            now = supervisor.info().get(program, {})
            if now.get("statename") == "RUNNING" and now.get("pid") != info["pid"]:
                return info["pid"], now["pid"]
            time.sleep(1)
        raise TimeoutError(f"supervisord did not restart {program} within {deadline_s:.0f} s")
