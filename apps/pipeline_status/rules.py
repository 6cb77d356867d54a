"""When a stage is stale: pure rules on what the stages recorded. `invoke status` shows a
stage stale by these rules and the watchdog alerts on them, so the two never disagree.

A stage is stale only while work waits for it: a quiet pipeline (no traffic) is healthy.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.purchase_stream.config import TRIGGER_SECONDS
from apps.user_events.identity import SCHEDULE_MINUTES

DAG_SCHEDULE_SECONDS = SCHEDULE_MINUTES * 60.0
PERIODS = 3  # this many schedules (or triggers) without progress make a stage stale
DISK_NEARLY_FULL = 0.90  # the share of the disk holding .stack/ that is too much


@dataclass(frozen=True)
class Thresholds:
    dag_schedule_seconds: float = DAG_SCHEDULE_SECONDS
    stream_trigger_seconds: float = TRIGGER_SECONDS
    periods: int = PERIODS
    disk_nearly_full: float = DISK_NEARLY_FULL

    @property
    def dag_stale_seconds(self) -> float:
        return self.periods * self.dag_schedule_seconds

    @property
    def stream_stale_seconds(self) -> float:
        return self.periods * self.stream_trigger_seconds


def stale(waiting: int | None, since_seconds: float | None, limit_seconds: float,
          progress: str, periods: str) -> str | None:
    """Why a stage is stale, or None: records wait for it and its last `progress` (a
    commit, a batch) is older than `limit_seconds` (`periods` of its schedule), or never
    happened."""
    if not waiting:
        return None
    if since_seconds is None:
        return f"{waiting:,} records wait and no {progress} recorded"
    if since_seconds > limit_seconds:
        return (f"last {progress} {since_seconds:,.0f} s ago (> {periods}) while "
                f"{waiting:,} records wait")
    return None


def dag_stale(lag_records: int | None, since_commit_seconds: float | None,
              thresholds: Thresholds) -> str | None:
    """The DAG paused or stuck: it has not committed for three schedules while records wait."""
    return stale(lag_records, since_commit_seconds, thresholds.dag_stale_seconds, "commit",
                 f"{thresholds.periods} schedules")


def stream_stale(behind_records: int | None, since_batch_seconds: float | None,
                 thresholds: Thresholds) -> str | None:
    """The stream stopped or stuck: no batch for three triggers while records wait."""
    return stale(behind_records, since_batch_seconds, thresholds.stream_stale_seconds, "batch",
                 f"{thresholds.periods} triggers")


def disk_full(used_fraction: float | None, thresholds: Thresholds) -> str | None:
    if used_fraction is not None and used_fraction >= thresholds.disk_nearly_full:
        return (f"the disk holding .stack/ is {used_fraction:.0%} full "
                f"(alert from {thresholds.disk_nearly_full:.0%})")
    return None
