"""`invoke status`: each service and process, healthy or not, and why (the services' table;
apps/pipeline_status reads them and adds the stages)."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from rich.table import Table

from apps.settings import Settings, redact
from apps.stack.runtime import Runtime
from apps.stack.services import ALL


@dataclass
class ServiceStatus:
    service: str
    url: str
    healthy: bool
    reason: str
    processes: dict[str, str]  # program -> "RUNNING pid 123, up 0:05:12"
    activity: str  # what it is doing (last DAG run, last stream batch), or ""
    credentials: str
    memory_mib: float  # proportional set size of its process trees (shared pages split)
    skipped: bool = False  # left stopped on purpose (`invoke up --skip`): not a failure

    @property
    def ok(self) -> bool:
        return self.healthy or self.skipped


def tree_memory_mib(pid: int) -> float:
    """PSS of a process and its children, in MiB (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in tree:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def rows(settings: Settings, runtime: Runtime, reasons: dict[str, str | None],
         supervised: dict[str, dict], memory: dict[str, float],
         activities: dict[str, str]) -> list[ServiceStatus]:
    """Each service's row from what was read of it: its health check's answer (`reasons`,
    None when healthy), supervisord's view of its programs, their memory, and what it is
    doing (a line from apps/pipeline_status)."""
    out = []
    for service in ALL:
        reason = reasons.get(service.name)
        processes, mib = {}, 0.0
        if runtime.on_host(service):
            for program in service.programs(settings):
                info = supervised.get(program.name)
                processes[program.name] = (
                    f"{info['statename']} {info['description']}" if info else "not started"
                )
                mib += memory.get(program.name, 0.0)
        else:
            processes.update({name: "container" for name in service.compose_services})
        # supervisord keeps a program STOPPED until `invoke up` starts it: one that was
        # skipped; a crashed program is BACKOFF, EXITED or FATAL instead.
        skipped = bool(processes) and all(v.startswith("STOPPED") for v in processes.values())
        out.append(ServiceStatus(service.name, redact(service.url(settings)), reason is None,
                                 redact(reason or ""), processes,
                                 activities.get(service.name, "") if reason is None else "",
                                 service.credentials, round(mib, 1),
                                 skipped=skipped and reason is not None))
    return out


def table(rows: list[ServiceStatus], runtime: str, profile: str) -> Table:
    total = sum(r.memory_mib for r in rows)
    out = Table(title=f"shopstream stack ({runtime} runtime, {profile} profile)",
                title_justify="left",
                caption=f"memory (PSS) of all supervised processes: {total:,.0f} MiB",
                caption_justify="left")
    for column in ("service", "URL", "status", "processes", "activity", "memory", "credentials"):
        out.add_column(column, overflow="fold", min_width=8 if column == "service" else None,
                       justify="right" if column == "memory" else "left")
    for r in rows:
        status = ("[green]healthy[/]" if r.healthy else "[dim]not started (skipped)[/]"
                  if r.skipped else f"[red]down[/]: {r.reason[:160]}")
        memory = f"{r.memory_mib:,.0f} MiB" if r.memory_mib else "-"
        out.add_row(r.service, r.url, status, _processes(r.processes), r.activity or "-", memory,
                    r.credentials)
    return out


def _processes(processes: dict[str, str]) -> str:
    """`4 running` when all are; otherwise each process with its state."""
    if processes and all(v.startswith("RUNNING") for v in processes.values()):
        return f"{len(processes)} running" if len(processes) > 1 else "running"
    return "\n".join(f"{k}: {v}" for k, v in processes.items())
