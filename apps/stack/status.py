"""`invoke status`: each service and process, healthy or not, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rich.table import Table

from apps.settings import Settings
from apps.stack.runtime import Runtime
from apps.stack.services import ALL


@dataclass
class ServiceStatus:
    service: str
    url: str
    healthy: bool
    reason: str
    processes: dict[str, str]  # program -> "RUNNING pid 123, up 0:05:12"
    credentials: str


def collect(settings: Settings, runtime: Runtime) -> list[ServiceStatus]:
    supervised = runtime.supervisor.info()
    rows = []
    for service in ALL:
        reason = service.health(settings).check()
        processes = {}
        if runtime.on_host(service):
            for program in service.programs(settings):
                info = supervised.get(program.name)
                processes[program.name] = (
                    f"{info['statename']} {info['description']}" if info else "not started"
                )
        else:
            processes[service.compose_service or service.name] = "container"
        rows.append(ServiceStatus(service.name, service.url(settings), reason is None,
                                  reason or "", processes, service.credentials))
    return rows


def as_json(rows: list[ServiceStatus]) -> list[dict]:
    return [asdict(r) for r in rows]


def table(rows: list[ServiceStatus], runtime: str) -> Table:
    out = Table(title=f"shopstream stack ({runtime} runtime)", title_justify="left")
    for column in ("service", "URL", "status", "processes", "credentials"):
        out.add_column(column, overflow="fold")
    for r in rows:
        status = "[green]healthy[/]" if r.healthy else f"[red]down[/]: {r.reason}"
        out.add_row(r.service, r.url, status,
                    "\n".join(f"{k}: {v}" for k, v in r.processes.items()), r.credentials)
    return out
