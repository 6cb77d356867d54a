"""Health probes. Each returns None when the thing answers as expected, else why not."""

from __future__ import annotations

import socket

import httpx

TIMEOUT_MS = 3000  # every probe answers within about this: `invoke status` stays quick


def tcp(host: str, port: int, timeout: float = 1.0) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"nothing accepts connections on {host}:{port} ({exc.strerror or exc})"


def http_ok(url: str, timeout: float = TIMEOUT_MS / 1000) -> str | None:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"GET {url} failed: {exc.__class__.__name__}: {exc}"
    if response.status_code != 200:
        return f"GET {url} answered {response.status_code}: {response.text[:200]}"
    return None


def guarded(call, what: str) -> str | None:
    """Run a client call: healthy if it returns, else the exception is the reason why not."""
    try:
        call()
        return None
    except Exception as exc:  # a probe reports, it never raises
        return f"{what}: {exc.__class__.__name__}: {str(exc)[:300]}"


def programs_running(*names: str) -> str | None:
    """Healthy when supervisord runs every one of these programs, else which are not."""
    from apps.stack.supervisor import Supervisor

    supervisor = Supervisor()
    states = {name: supervisor.state(name) for name in names}
    return "; ".join(f"{n} is {state}" for n, state in states.items() if state != "RUNNING") \
        or None
