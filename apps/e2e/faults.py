"""The chaos run's faults, injected while traffic flows, each undone whatever happens.

Kafka's broker is restarted, the Spark job killed with SIGKILL (supervisord runs it
again), MongoDB stopped while a DAG run works and started once that run is over, the API
restarted. Every step first checks that the run is not being cancelled; `undo` starts
again, healthy, every service a step touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apps.settings import Settings
from apps.stack.control import ServiceControl
from apps.stack.services.stream import JOB
from apps.user_events.airflow_api import AirflowApi

KAFKA_DOWN_S = 10.0
API_DOWN_S = 5.0
MONGO_DOWN_MAX_S = 420.0  # the DAG's retries (2 x 15 s, 30 s server selection each) fit
RUN_START_MAX_S = 300.0   # a scheduled run may be going first (max_active_runs=1)


class Cancelled(Exception):
    pass


@dataclass
class Timeline:
    """What was done when, in seconds since the run's traffic began."""

    started: float = field(default_factory=time.monotonic)
    say: Callable[[str], None] = print
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        at = round(time.monotonic() - self.started, 1)
        self.events.append((at, what))
        self.say(f"t+{at:6.1f} s  {what}")


class Faults:
    def __init__(self, settings: Settings, seconds: float, timeline: Timeline):
        self.settings = settings
        self.seconds = seconds
        self.timeline = timeline
        self.control = ServiceControl(settings)
        self.cancel = threading.Event()
        self.touched: list[str] = []
        self.error: BaseException | None = None

    def at(self, fraction: float) -> None:
        """Sleep until `fraction` of the traffic's seconds; raise if cancelled."""
        wait = self.timeline.started + fraction * self.seconds - time.monotonic()
        if self.cancel.wait(max(wait, 0)):
            raise Cancelled

    def pause(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled

    def script(self) -> None:
        """The faults in order (a thread runs it while the traffic is sent)."""
        try:
            self.at(0.1)
            self.restart("kafka", KAFKA_DOWN_S, "Kafka broker")
            self.at(0.3)
            self.kill_stream()
            self.at(0.4)
            self.restart("api", API_DOWN_S, "API")
            self.at(0.5)
            self.mongo_down_through_a_dag_run()
        except Cancelled:
            self.timeline.mark("faults cancelled")
        except BaseException as exc:  # reported by the run, after `undo`
            self.error = exc
            self.timeline.mark(f"fault step failed: {type(exc).__name__}: {exc}")

    def restart(self, service: str, down_s: float, what: str) -> None:
        self.touched.append(service)
        self.control.stop(service)
        self.timeline.mark(f"{what} stopped")
        self.pause(down_s)
        self.control.start(service)
        self.timeline.mark(f"{what} started again, healthy")

    def kill_stream(self) -> None:
        self.touched.append("stream")
        self.timeline.mark(f"kill -9 the Spark job ({JOB})")
        old, new = self.control.kill(JOB)
        self.timeline.mark(f"supervisord restarted the Spark job (pid {old} -> {new})")

    def mongo_down_through_a_dag_run(self) -> None:
        with AirflowApi(self.settings) as api:
            run_id = api.trigger()["dag_run_id"]
            self.timeline.mark(f"triggered DAG run {run_id}")
            deadline = time.monotonic() + RUN_START_MAX_S
            while api.run(run_id)["state"] != "running":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG run {run_id} did not start in {RUN_START_MAX_S} s")
                self.pause(2)
            self.touched.append("mongo")
            self.control.stop("mongo")
            self.timeline.mark(f"MongoDB (FerretDB) stopped while DAG run {run_id} runs")
            deadline = time.monotonic() + MONGO_DOWN_MAX_S
            while (state := api.run(run_id)["state"]) not in ("success", "failed"):
                if time.monotonic() > deadline:
                    break
                self.pause(5)
            self.timeline.mark(f"DAG run {run_id} is {state}")
        self.control.start("mongo")
        self.timeline.mark("MongoDB (FerretDB) started again, healthy")

    def undo(self) -> None:
        """Every service a step touched: started again and healthy (no-op if it is)."""
        for service in dict.fromkeys(self.touched):
            self.control.start(service)
        self.control.stopped.clear()
