"""The status schema: one entry per stage, from the generator to PostgreSQL.

    {"schema": "shopstream.status/1", "at": "...", "runtime": "native", "profile": "default",
     "ok": true,
     "stages": [{"stage": "generator", "health": "healthy", "reason": "",
                 "figures": {"accepted_records_per_second": {"value": 41.2,
                             "at": "...", "age_seconds": 1.4}, ...}}, ...],
     "services": [...], "disk": {...}}

docs/status.md documents every stage and figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SCHEMA = "shopstream.status/1"

# A stage's health, worst last: the view colours them, `ok` is false from "stale" on.
HEALTHY = "healthy"
SKIPPED = "skipped"  # left stopped on purpose (`invoke up --skip`)
UNKNOWN = "unknown"  # what it recorded could not be read within the deadline
STALE = "stale"  # running, but its recorded progress is too old while work waits
FAILING = "failing"  # answers, but reports a failure (a failed run, records lost)
DOWN = "down"  # its service does not answer or its process does not run
HEALTHS = (HEALTHY, SKIPPED, UNKNOWN, STALE, FAILING, DOWN)
PROBLEMS = (STALE, FAILING, DOWN)

# The stages in the order records flow through them.
STAGES = ("generator", "api", "kafka", "user_events_dag", "mongo", "stream", "lake",
          "analysis", "losses")


@dataclass(frozen=True)
class Figure:
    """A value and when its stage recorded it (None: read live, now)."""

    value: object
    at: datetime | None = None

    def to_json(self, now: datetime) -> dict:
        at = self.at or now
        return {"value": self.value, "at": at.isoformat(),
                "age_seconds": round(max(0.0, (now - at).total_seconds()), 1)}


@dataclass(frozen=True)
class Stage:
    stage: str
    health: str
    reason: str = ""  # one line: why not healthy (empty when healthy)
    figures: dict[str, Figure] = field(default_factory=dict)
    summary: str = ""  # the figures in one line, for the tables

    @property
    def problem(self) -> bool:
        return self.health in PROBLEMS

    def to_json(self, now: datetime) -> dict:
        return {"stage": self.stage, "health": self.health, "reason": self.reason,
                "summary": self.summary,
                "figures": {k: f.to_json(now) for k, f in self.figures.items()}}


@dataclass(frozen=True)
class Report:
    at: datetime
    runtime: str
    stages: list[Stage]
    services: list  # apps.stack.status.ServiceStatus rows
    disk: dict  # {"path", "used_fraction", "free_bytes"} of the filesystem holding .stack/
    profile: str = "default"  # apps/profiles.py

    @property
    def ok(self) -> bool:
        """Every service healthy or skipped: `invoke status` exits 1 otherwise (a stale
        stage is shown and alerted by the watchdog, but is no outage)."""
        return all(s.ok for s in self.services)

    def to_json(self) -> dict:
        from dataclasses import asdict

        return {"schema": SCHEMA, "at": self.at.isoformat(), "runtime": self.runtime,
                "profile": self.profile, "ok": self.ok, "stages": [s.to_json(self.at) for s in self.stages],
                "services": [asdict(s) for s in self.services], "disk": self.disk}
