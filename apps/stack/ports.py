"""Who holds a TCP port, so `invoke up` can name the process in its error."""

from __future__ import annotations

import psutil

from apps.stack import probes


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    return probes.tcp(host, port, timeout=0.3) is not None


def holder(port: int) -> str:
    """`pid 123 (java)` for the process listening on the port, where it can be told."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "a process of another user"
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return "an unknown process"
