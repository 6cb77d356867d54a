"""The report as tables: the stages (health, figures, age) and the services (processes,
memory, credentials). `invoke status` prints them once, `invoke watch` live."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from apps.pipeline_status.schema import (
    DOWN, FAILING, HEALTHY, SKIPPED, STALE, UNKNOWN, Report, Stage,
)
from apps.stack.status import table as services_table

STYLE = {HEALTHY: "green", SKIPPED: "dim", UNKNOWN: "yellow", STALE: "yellow",
         FAILING: "red", DOWN: "red"}


def health_cell(stage: Stage) -> str:
    text = f"[{STYLE[stage.health]}]{stage.health}[/]"
    return text if not stage.reason else f"{text}: {stage.reason[:160]}"


def stages_table(report: Report) -> Table:
    out = Table(title=f"shopstream pipeline at {report.at:%H:%M:%S} UTC", title_justify="left")
    for column in ("stage", "health", "figures"):
        out.add_column(column, overflow="fold")
    for stage in report.stages:
        out.add_row(stage.stage, health_cell(stage), stage.summary or "-")
    disk = report.disk
    if disk:
        out.caption = (f"disk holding .stack/: {disk['used_fraction']:.0%} used, "
                       f"{disk['free_bytes'] / 2**30:,.1f} GiB free")
        out.caption_justify = "left"
    return out


def render(report: Report) -> Group:
    return Group(stages_table(report), services_table(report.services, report.runtime,
                                                                 report.profile))
