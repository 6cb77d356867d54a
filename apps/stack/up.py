"""`invoke up`: provision, start in dependency order, wait for health, bootstrap.

Idempotent: a service that already answers its health check is left running, and every
bootstrap step (topics, bucket, indexes, schema) only creates what is missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from apps.console import make_console
from apps.profiles import MARKER
from apps.settings import Settings, get_settings
from apps.stack import doctor, ports
from apps.stack.envfile import ensure_env
from apps.stack.paths import LOG_DIR, PROFILE
from apps.stack.runtime import Runtime, choose
from apps.stack.services import ALL
from apps.stack.spec import Health, Service, StackError
from apps.stack.supervisor import running_profiles


def select(skip: Iterable[str] = ()) -> list[Service]:
    skip = set(skip)
    unknown = skip - {s.name for s in ALL}
    if unknown:
        raise StackError(f"unknown service(s): {', '.join(sorted(unknown))}")
    return [s for s in ALL if s.name not in skip]


def log_tail(program: str, lines: int = 25) -> str:
    path = LOG_DIR / f"{program}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(service: Service, health: Health, settings: Settings,
                 cancelled: threading.Event | None = None) -> None:
    deadline = time.monotonic() + health.timeout_seconds
    reason = health.check()
    while reason is not None:
        if cancelled is not None and cancelled.is_set():
            raise StackError(f"stopped waiting for {service.name}")
        if time.monotonic() > deadline:
            tails = "\n\n".join(f"--- last lines of {LOG_DIR}/{p.name}.log ---\n{log_tail(p.name)}"
                                for p in service.programs(settings))
            raise StackError(f"{service.name} is not healthy after {health.timeout_seconds:.0f} s "
                             f"waiting for {health.what}: {reason}\n\n{tails}")
        time.sleep(1)
        reason = health.check()


def _our_pids(runtime: Runtime) -> set[int]:
    pids: set[int] = set()
    for info in runtime.supervisor.info().values():
        if info.get("pid"):
            try:
                proc = psutil.Process(info["pid"])
                pids |= {proc.pid, *(c.pid for c in proc.children(recursive=True))}
            except psutil.NoSuchProcess:
                pass
    return pids


def port_conflicts(services: list[Service], settings: Settings, runtime: Runtime) -> list[str]:
    """Ports of the contract held by a process that is not one of shopstream's."""
    ours = _our_pids(runtime)
    taken = []
    for service in (s for s in services if runtime.on_host(s)):
        for port in service.ports(settings):
            if not ports.is_free(port):
                holder = ports.holder(port)
                if not any(holder.startswith(f"pid {pid} ") for pid in ours):
                    taken.append(f"port {port} ({service.name}) is taken by {holder}")
    return taken


def check_ports(services: list[Service], settings: Settings, runtime: Runtime) -> None:
    taken = port_conflicts(services, settings, runtime)
    if taken:
        raise StackError("cannot start: " + "; ".join(taken) +
                         ". Stop that process or change the port in .env.")


def unprovisioned(services: list[Service], runtime: Runtime) -> list[Service]:
    """The services this runtime runs on the host whose artifacts are not cached yet."""
    return [s for s in services if runtime.on_host(s) and s.provision and not s.is_provisioned()]


def provision(services: list[Service], settings: Settings, console: Console) -> None:
    """Fetch and build what is not cached yet (`services`: those `unprovisioned`)."""
    todo = [(s.description, lambda s=s: s.provision(settings)) for s in services]
    if not todo:
        return
    # Builds use the CPU and downloads the network: overlapping them saves minutes.
    with ThreadPoolExecutor(max_workers=3) as pool, _progress(console) as step:
        for future in [pool.submit(step, *item) for item in todo]:
            future.result()


@contextmanager
def _progress(console: Console):
    """`step(description, action)`: a live spinner on a terminal; elsewhere (CI logs,
    `invoke up > log`) one plain line when a step starts and one when it ends, timed."""
    if not console.is_terminal:
        def step(description: str, action) -> None:
            started = time.monotonic()
            console.print(f"provisioning {description} ...", highlight=False)
            action()
            console.print(f"provisioned {description} in {time.monotonic() - started:.0f} s",
                          highlight=False)

        yield step
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        def step(description: str, action) -> None:
            task = progress.add_task(f"provisioning {description}", total=1)
            action()
            progress.update(task, completed=1, description=f"[green]provisioned[/] {description}")

        yield step


def check_profile(runtime: Runtime) -> None:
    """One profile at a time (they share the contract's ports); then remember this one, so
    that commands typed later (`invoke status`, `down`, `e2e`) act on it."""
    others = [p.name for p in running_profiles() if p.name != PROFILE.name]
    if others:
        raise StackError(f"the {others[0]} profile is running: `invoke down` stops it, then "
                         f"`invoke up --profile {PROFILE.name}` starts this one")
    if runtime.name != "native" and not PROFILE.is_default:
        raise StackError(f"the {PROFILE.name} profile runs on the native runtime only: "
                         "set STACK_RUNTIME=native in .env")
    MARKER.parent.mkdir(parents=True, exist_ok=True)
    MARKER.write_text(PROFILE.name + "\n")


def up(skip: Iterable[str] = (), console: Console | None = None) -> Runtime:
    console = console or make_console()
    if ensure_env():
        console.print("created [bold].env[/] from config/.env.example with fresh secrets")
    settings = get_settings()
    runtime = choose(settings)
    services = select(skip)
    to_build = unprovisioned(services, runtime)
    missing = [f for f in doctor.prerequisites(building=bool(to_build)) if not f.ok]
    if missing:
        raise StackError("missing prerequisites:\n" + "\n".join(
            f"  {f.check}: {f.detail}; {f.fix}" for f in missing))
    check_profile(runtime)
    console.print(f"runtime: [bold]{runtime.name}[/], profile: [bold]{PROFILE.name}[/]")
    check_ports(services, settings, runtime)
    provision(to_build, settings, console)
    # Every program is registered, skipped ones too: skipping means "do not start", and
    # a program already running stays as it is.
    runtime.supervisor.launch(runtime.host_programs(list(ALL), settings))
    start_all(services, settings, runtime, console)
    return runtime


def start_all(services: list[Service], settings: Settings, runtime: Runtime,
              console: Console) -> None:
    """Start each service as soon as what it needs is healthy: independent servers
    (Kafka's JVM, Airflow's migrations, SeaweedFS) warm up side by side."""
    started: dict[str, Future] = {}
    waiting = {s.name for s in services}
    cancelled = threading.Event()  # set on Ctrl-C: every wait stops at its next check
    began = time.monotonic()

    def bring_up(service: Service) -> None:
        for need in service.needs:
            if need in started:
                started[need].result()  # a failed dependency fails this service too
        health = service.health(settings)
        if health.check() is not None:
            runtime.start(service, settings)
            wait_healthy(service, health, settings, cancelled)
        if service.bootstrap:
            service.bootstrap(settings)
        waiting.discard(service.name)
        console.print(f"[green]✔[/] {service.name} healthy ({time.monotonic() - began:.0f} s)")

    pool = ThreadPoolExecutor(len(services))
    with console.status("starting") as status:
        for service in services:
            started[service.name] = pool.submit(bring_up, service)
        try:
            while not all(f.done() for f in started.values()):
                status.update(f"waiting for {', '.join(sorted(waiting))}")
                time.sleep(0.5)
        finally:
            cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
    for service in services:  # the first failure, in start order
        started[service.name].result()
