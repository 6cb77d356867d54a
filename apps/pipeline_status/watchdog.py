"""The watchdog: a supervised program outside Airflow that reads the status report every
half minute and alerts once (ALERT_WEBHOOK_URL) when a stage goes stale: the events DAG
has not committed for three schedules while records wait (paused or stuck), the stream's
last batch is older than three triggers while records wait, a service stays unhealthy,
the disk holding .stack/ is nearly full. One alert per streak: none again while the
condition lasts; once it clears, the next streak alerts again.

    python -m apps.pipeline_status.watchdog [--every 30] [--rounds N] [--database DB ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.pipeline_status import rules
from apps.pipeline_status.schema import STALE, Report

log = logging.getLogger(__name__)

EVERY_S = 30.0
UNHEALTHY_CHECKS = 3  # a service down this many checks in a row "stays unhealthy"


def conditions(report: Report, thresholds: rules.Thresholds) -> dict[str, str]:
    """What is wrong now, by condition key: stale stages, unhealthy services (not those
    left stopped on purpose), a nearly full disk."""
    found = {f"stale:{s.stage}": f"{s.stage} is stale: {s.reason}"
             for s in report.stages if s.health == STALE}
    found.update({f"unhealthy:{r.service}": f"{r.service} is unhealthy: {r.reason}"
                  for r in report.services if not r.ok})
    disk = rules.disk_full(report.disk.get("used_fraction"), thresholds)
    if disk:
        found["disk"] = disk
    return found


@dataclass
class Streaks:
    """Which conditions were alerted, so that each streak alerts once. A service must be
    unhealthy `unhealthy_checks` times in a row before it counts (a restart is no outage)."""

    unhealthy_checks: int = UNHEALTHY_CHECKS
    alerted: set[str] = field(default_factory=set)
    seen: dict[str, int] = field(default_factory=dict)  # condition -> checks in a row

    def update(self, now: dict[str, str]) -> dict[str, str]:
        """Record this check's conditions; return those to alert now."""
        self.seen = {key: self.seen.get(key, 0) + 1 for key in now}
        self.alerted &= set(now)  # a condition that cleared ends its streak
        due = {key: message for key, message in now.items()
               if key not in self.alerted
               and (not key.startswith("unhealthy:") or self.seen[key] >= self.unhealthy_checks)}
        self.alerted |= set(due)
        return due


def alert_message(key: str, message: str, at: datetime) -> dict:
    return {"source": "shopstream", "watchdog": key, "text": f"shopstream: {message}",
            "message": message, "at": at.isoformat()}


def main(argv: list[str] | None = None) -> None:
    from apps.alerts import post_alert
    from apps.pipeline_status.collect import report
    from apps.pipeline_status.readings import Sources
    from apps.settings import get_settings
    from apps.stack.runtime import choose

    defaults, limits = Sources(), rules.Thresholds()
    parser = argparse.ArgumentParser(prog="python -m apps.pipeline_status.watchdog",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=EVERY_S, help="seconds between checks")
    parser.add_argument("--rounds", type=int, default=None, help="checks to run (default: ever)")
    parser.add_argument("--dag-schedule-seconds", type=float, default=limits.dag_schedule_seconds)
    parser.add_argument("--stream-trigger-seconds", type=float,
                        default=limits.stream_trigger_seconds)
    parser.add_argument("--unhealthy-checks", type=int, default=UNHEALTHY_CHECKS)
    # a test's own topic, consumer group and database in place of the pipeline's
    parser.add_argument("--topic", default=defaults.user_events_topic)
    parser.add_argument("--group", default=defaults.dag_group)
    parser.add_argument("--database", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per probe request

    settings = get_settings()
    runtime = choose(settings)
    sources = Sources(user_events_topic=args.topic, dag_group=args.group, database=args.database)
    thresholds = rules.Thresholds(dag_schedule_seconds=args.dag_schedule_seconds,
                                  stream_trigger_seconds=args.stream_trigger_seconds)
    streaks = Streaks(unhealthy_checks=args.unhealthy_checks)
    log.info("watchdog: a check every %s s; stale after %s schedules or triggers",
             args.every, thresholds.periods)
    done = 0
    while args.rounds is None or done < args.rounds:
        started = time.monotonic()
        now = report(settings, runtime, sources, thresholds)
        for key, message in streaks.update(conditions(now, thresholds)).items():
            log.warning("alert: %s", message)
            post_alert(settings.alert_webhook_url, alert_message(key, message, datetime.now(UTC)))
        done += 1
        if args.rounds is None or done < args.rounds:
            time.sleep(max(0.0, args.every - (time.monotonic() - started)))


if __name__ == "__main__":
    main(sys.argv[1:])
