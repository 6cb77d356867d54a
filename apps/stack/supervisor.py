"""supervisord: runs every native server and host process, restarts it when it dies,
and writes one log per program to `.stack/logs/<program>.log`.

Programs are registered with autostart off: `invoke up` starts them in dependency order
and waits for each service's health, so a server never starts before what it needs.
"""

from __future__ import annotations

import shlex
import sys
import time
import xmlrpc.client
from http.client import HTTPException
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from apps.profiles import PROFILE_VARIABLE, PROFILES, Profile
from apps.stack.paths import LOG_DIR, PROFILE, RUN_DIR, STACK_DIR
from apps.stack.spec import Program, StackError
from apps.stack.tools import run_tool
from apps.stack.templates import write_private

CONF = STACK_DIR / "supervisord.conf"
SOCKET = RUN_DIR / "supervisor.sock"


def profile_supervisor(profile: Profile) -> Supervisor:
    """The supervisord of a profile's stack, whichever profile this process runs in."""
    return Supervisor(profile.state_dir / SOCKET.relative_to(STACK_DIR))


def running_profiles() -> list[Profile]:
    return [p for p in PROFILES.values() if profile_supervisor(p).is_running()]


def _quote(value: str) -> str:
    # supervisord expands %(name)s in values: a literal % must be doubled.
    return value.replace("%", "%%")


def program_section(program: Program) -> str:
    env = ",".join(f'{k}="{_quote(v)}"' for k, v in sorted(program.env.items()))
    kind = "eventlistener" if program.events else "program"
    lines = [
        f"[{kind}:{program.name}]",
        f"command={_quote(shlex.join(program.argv))}",
        f"directory={program.cwd or STACK_DIR}",
        "autostart=false",
        *(["autorestart=unexpected",
           f"exitcodes={','.join(map(str, (0, *program.expected_exit_codes)))}"]
          if program.expected_exit_codes else ["autorestart=true"]),
        "startsecs=2",
        "startretries=10",
        f"stopsignal={program.stop_signal}",
        f"stopwaitsecs={program.stop_wait_seconds}",
        "stopasgroup=true",
        "killasgroup=true",
    ]
    if program.events:  # stdout carries the listener protocol: log stderr only
        lines += [f"events={','.join(program.events)}",
                  f"stderr_logfile={LOG_DIR / program.name}.log", "stderr_logfile_maxbytes=10MB"]
    else:
        lines += ["redirect_stderr=true", f"stdout_logfile={LOG_DIR / program.name}.log",
                  "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2"]
    if env:
        lines.append(f"environment={env}")
    if program.user:
        lines.append(f"user={program.user}")
    return "\n".join(lines)


def render_conf(programs: list[Program]) -> str:
    header = f"""; Written by `invoke up`; edit the service specs in apps/stack/services/ instead.
[unix_http_server]
file={SOCKET}
chmod=0700

[supervisord]
logfile={LOG_DIR / "supervisord.log"}
logfile_maxbytes=10MB
pidfile={RUN_DIR / "supervisord.pid"}
childlogdir={LOG_DIR}
directory={STACK_DIR}
; Every program runs in this profile (apps/profiles.py): its endpoints and state folder.
environment={PROFILE_VARIABLE}="{PROFILE.name}"

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{SOCKET}
"""
    return header + "\n" + "\n\n".join(program_section(p) for p in programs) + "\n"


class Supervisor:
    """A client of the running supervisord (XML-RPC over its unix socket)."""

    def __init__(self, socket: Path = SOCKET):
        self.socket = socket

    def call(self, method: str, *args):
        # A fresh connection per call, closed after it: a transport is unusable after an error.
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        with xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport) as proxy:
            try:
                return getattr(proxy.supervisor, method)(*args)
            finally:
                transport.close()

    def is_running(self) -> bool:
        try:
            return self.call("getState")["statename"] == "RUNNING"
        except (OSError, HTTPException, xmlrpc.client.Fault):
            return False

    def launch(self, programs: list[Program]) -> None:
        """Write the config and start supervisord, or make a running one load the change."""
        for folder in (LOG_DIR, RUN_DIR):
            folder.mkdir(parents=True, exist_ok=True)
        for program in programs:
            for file in program.files:
                file.write()
        text = render_conf(programs)
        changed = not CONF.exists() or CONF.read_text() != text
        if changed:
            write_private(CONF, text)  # program environments hold secrets
        if not self.is_running():
            run_tool([sys.executable, "-W", "ignore", "-m", "supervisor.supervisord", "-c", str(CONF)],
                     what="starting supervisord")
            deadline = time.monotonic() + 15
            while not self.is_running():
                if time.monotonic() > deadline:
                    raise StackError(f"supervisord did not start; see {LOG_DIR}/supervisord.log")
                time.sleep(0.2)
        elif changed:
            self._apply_changes()

    def _apply_changes(self) -> None:
        # What `supervisorctl update` does: reload, then swap added/changed/removed groups.
        [[added, changed, removed]] = self.call("reloadConfig")
        for name in changed + removed:
            self.call("stopProcessGroup", name)
            self.call("removeProcessGroup", name)
        for name in added + changed:
            self.call("addProcessGroup", name)

    def start(self, name: str) -> None:
        if self.state(name) not in ("RUNNING", "STARTING"):
            self.call("startProcess", name, False)  # don't wait: health checks do the waiting

    def stop(self, name: str) -> None:
        if self.state(name) in ("RUNNING", "STARTING", "BACKOFF"):
            self.call("stopProcess", name, True)

    def stop_together(self, names: list[str], deadline_s: float) -> None:
        """Stop these programs at once and wait until none runs: the nodes of a cluster
        (one at a time, the last broker would wait for a quorum that has gone)."""
        for name in names:
            if self.state(name) in ("RUNNING", "STARTING", "BACKOFF"):
                self.call("stopProcess", name, False)
        deadline = time.monotonic() + deadline_s
        while any(self.state(n) in ("RUNNING", "STARTING", "STOPPING") for n in names):
            if time.monotonic() > deadline:
                raise StackError(f"{', '.join(names)} still running after {deadline_s:.0f} s")
            time.sleep(0.2)

    def state(self, name: str) -> str:
        try:
            return self.call("getProcessInfo", name)["statename"]
        except (OSError, HTTPException, xmlrpc.client.Fault):
            return "UNKNOWN"

    def info(self) -> dict[str, dict]:
        try:
            return {p["name"]: p for p in self.call("getAllProcessInfo")}
        except (OSError, HTTPException, xmlrpc.client.Fault):
            return {}

    def shutdown(self) -> None:
        if self.is_running():
            self.call("stopAllProcesses", True)
            self.call("shutdown")
            deadline = time.monotonic() + 30
            while self.socket.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
