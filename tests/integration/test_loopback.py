"""Every server shopstream starts listens on the loopback interface only: read from the
real listening sockets of every supervised process tree, not from configuration text."""

import ipaddress

import psutil
import pytest

from apps.stack.supervisor import Supervisor

pytestmark = pytest.mark.integration


def listening(pid: int) -> set[tuple[str, str, int]]:
    """(process name, address, port) of every TCP socket a process tree listens on."""
    root = psutil.Process(pid)
    found = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            for conn in proc.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((proc.name(), conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # a JVM shows 127.0.0.1 as ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def test_every_supervised_process_listens_on_loopback_only(stack):
    running = {name: info["pid"] for name, info in Supervisor().info().items()
               if info["statename"] == "RUNNING"}
    assert {"kafka", "ferretdb", "seaweedfs", "postgres", "airflow-api-server", "api"} <= set(
        running)
    sockets = {name: listening(pid) for name, pid in running.items()}
    assert any(sockets.values())
    wide = {name: sorted(s for s in found if not is_loopback(s[1]))
            for name, found in sockets.items()}
    assert {name: found for name, found in wide.items() if found} == {}
