"""What a run takes on, decided before it reads a record (pure).

A run starts each partition where the group committed in this incarnation of the topic
(else at the first offset Kafka holds), ends at most at the end offsets of now, and takes
at most a cap of records, so a backlog drains run after run within the schedule. Offsets
that Kafka deleted before they were read are a loss, said out loud (`apps.losses`).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.losses import LostRange, losses_between
from apps.user_events.counts import Ranges, Span, bound, records_in

SOURCE = "user_events"


@dataclass(frozen=True)
class Plan:
    ranges: Ranges
    lost: list[LostRange]
    waiting: int  # records left for later runs (past the cap)


def plan_run(topic: str, topic_id: str, committed: dict[int, int], log_starts: dict[int, int],
             ends: dict[int, int], cap: int) -> Plan:
    wanted = {p: committed.get(p, log_starts[p]) for p in log_starts}
    lost = losses_between(SOURCE, topic, topic_id, wanted, log_starts)
    everything = {p: Span(max(wanted[p], log_starts[p]), max(wanted[p], log_starts[p], ends[p]))
                  for p in log_starts}
    ranges = bound(everything, cap)
    return Plan(ranges, lost, records_in(everything) - records_in(ranges))

