"""The chaos run's faults, injected while traffic flows, each undone whatever happens.

Kafka is restarted, the Spark job killed with SIGKILL (supervisord runs it again),
MongoDB stopped while a DAG run works and started once that run is over, the API
restarted. In the cluster profile one Kafka broker and the Spark worker are also killed
with SIGKILL. Every step first checks that the run is not being cancelled; `undo` starts
again, healthy, every service a step touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apps.settings import Settings
from apps.stack.control import ServiceControl
from apps.stack.services import kafka, spark_cluster
from apps.stack.services.stream import JOB
from apps.user_events.airflow_api import AirflowApi

KAFKA_DOWN_S = 10.0
API_DOWN_S = 5.0
BROKER_BACK_MAX_S = 180.0
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

    def steps(self) -> list[tuple[float, Callable[[], None]]]:
        """Each fault and when it starts (a fraction of the traffic's seconds). On a Kafka
        cluster one broker is also killed, on a Spark standalone cluster its worker."""
        steps = [(0.1, lambda: self.restart("kafka", KAFKA_DOWN_S, "Kafka")),
                 (0.3, self.kill_stream),
                 (0.4, lambda: self.restart("api", API_DOWN_S, "API")),
                 (0.5, self.mongo_down_through_a_dag_run)]
        if len(kafka.nodes(self.settings)) > 1:
            steps.append((0.2, self.kill_broker))
        if spark_cluster.SERVICE.name in self.control.services:
            steps.append((0.35, self.kill_worker))
        return sorted(steps, key=lambda step: step[0])

    def script(self) -> None:
        """The faults in order (a thread runs it while the traffic is sent)."""
        try:
            for fraction, fault in self.steps():
                self.at(fraction)
                fault()
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

    def kill_broker(self) -> None:
        """`kill -9` one broker of the cluster (not the first bootstrap address); supervisord
        runs it again. Marked: when it answers on its listener again, and when every
        partition has all its replicas in sync again."""
        node = kafka.nodes(self.settings)[1]
        self.touched.append("kafka")
        self.timeline.mark(f"kill -9 Kafka broker {node.node_id} ({node.program})")
        old, new = self.control.kill(node.program)
        self.timeline.mark(f"supervisord restarted broker {node.node_id} (pid {old} -> {new})")
        self.until(lambda: kafka.node_answers(node), BROKER_BACK_MAX_S,
                   f"broker {node.node_id} answering on {node.host}:{node.port}")
        self.timeline.mark(f"broker {node.node_id} answers on {node.host}:{node.port} again")
        self.until(lambda: not kafka.out_of_sync(self.settings), BROKER_BACK_MAX_S,
                   "every partition's replicas in sync")
        self.timeline.mark("every partition has all its replicas in sync again")

    def until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        deadline = time.monotonic() + deadline_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} after {deadline_s:.0f} s")
            self.pause(0.5)

    def kill_worker(self) -> None:
        """`kill -9` the Spark worker: its executors die with it, the applications' tasks
        are retried once supervisord has run it again."""
        self.touched.append(spark_cluster.SERVICE.name)
        self.timeline.mark(f"kill -9 the Spark worker ({spark_cluster.WORKER})")
        old, new = self.control.kill(spark_cluster.WORKER)
        self.control.wait_healthy(spark_cluster.SERVICE.name)
        self.timeline.mark(f"the Spark worker is back and registered (pid {old} -> {new})")

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
