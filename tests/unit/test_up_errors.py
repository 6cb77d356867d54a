"""`invoke up`'s errors name what is wrong (these use real sockets and files, no servers)."""

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from apps.stack import up as stack_up
from apps.stack.runtime import Runtime
from apps.stack.spec import Health, Program, Service
from apps.stack.supervisor import Supervisor


def make_service(port: int) -> Service:
    return Service(name="fake", description="fake", url=lambda s: "-", ports=lambda s: [port],
                   programs=lambda s: [Program("fake-server", ["true"])],
                   health=lambda s: Health("fake answering", lambda: "refused", 0.5))


def test_a_taken_port_names_the_port_and_the_process(settings, tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        runtime = Runtime("native", Supervisor(tmp_path / "no.sock"))
        with pytest.raises(stack_up.StackError) as error:
            stack_up.check_ports([make_service(port)], settings, runtime)
    assert f"port {port} (fake) is taken by pid {os.getpid()} (" in str(error.value)


def test_an_unhealthy_service_fails_with_what_it_waited_for_and_its_log(settings, monkeypatch,
                                                                         tmp_path):
    monkeypatch.setattr(stack_up, "LOG_DIR", tmp_path)
    (tmp_path / "fake-server.log").write_text("starting\nFATAL: could not bind\n")
    service = make_service(1)
    with pytest.raises(stack_up.StackError) as error:
        stack_up.wait_healthy(service, service.health(settings), settings)
    message = str(error.value)
    assert "fake is not healthy after 0 s waiting for fake answering: refused" in message
    assert "FATAL: could not bind" in message


def test_unknown_service_names_are_refused():
    with pytest.raises(stack_up.StackError, match="unknown service"):
        stack_up.select(["kafak"])


def test_a_private_folder_is_not_reachable_by_the_server_user():
    from apps.stack.services.postgres import reachable_by_others

    # Under /tmp (sticky, world-searchable), not pytest's tmp_path: that one is private.
    top = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        home = top / "home"
        (home / "repo" / ".stack").mkdir(parents=True)
        top.chmod(0o755)
        home.chmod(0o755)
        assert reachable_by_others(home / "repo" / ".stack")
        home.chmod(0o700)
        assert not reachable_by_others(home / "repo" / ".stack")
    finally:
        shutil.rmtree(top)
