"""One report of the whole pipeline: every source read at once (readings.py), then the
services' rows and the stages built from the same readings (pure)."""

from __future__ import annotations

from apps.pipeline_status import rules, stages
from apps.pipeline_status.readings import DEADLINE_S, Sources, read
from apps.pipeline_status.schema import Report
from apps.settings import Settings
from apps.stack import status as stack_status
from apps.stack.paths import PROFILE
from apps.stack.runtime import Runtime
from apps.stack.services import ALL


def report(settings: Settings, runtime: Runtime, sources: Sources = Sources(),
           thresholds: rules.Thresholds = rules.Thresholds(),
           deadline_s: float = DEADLINE_S) -> Report:
    now, readings = read(settings, runtime, sources, deadline_s)
    return build(settings, runtime, readings, now, sources, thresholds)


def build(settings: Settings, runtime: Runtime, readings: dict, now, sources: Sources,
          thresholds: rules.Thresholds) -> Report:
    def health(name: str) -> str | None:
        reading = readings[f"health:{name}"]
        return reading.value if reading.error is None else f"health check: {reading.error}"

    reasons = {s.name: health(s.name) for s in ALL}
    supervised = readings["supervisor"].value or {}
    memory = readings["memory"].value or {}
    # first without activities: a stage's health needs its service's row
    rows = stack_status.rows(settings, runtime, reasons, supervised, memory, {})
    built = stages.build(readings, rows, now, thresholds, sources)
    activities = {stages.STAGE_SERVICE[s.stage]: s.summary for s in built
                  if s.stage in stages.STAGE_SERVICE}
    rows = stack_status.rows(settings, runtime, reasons, supervised, memory, activities)
    return Report(now, runtime.name, built, rows, readings["disk"].value or {}, PROFILE.name)
