"""The shape of a service spec: what `invoke up` needs to know about one service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apps.settings import Settings
from apps.stack.templates import ConfigFile


class StackError(RuntimeError):
    """A failure explained to the user: `invoke` prints it without a traceback."""


@dataclass(frozen=True)
class Program:
    """One long-running process, supervised (restarted on crash, one log file)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this user (PostgreSQL refuses to run as root)
    files: tuple[ConfigFile, ...] = ()  # configuration it reads, written before it starts
    stop_signal: str = "TERM"
    stop_wait_seconds: int = 30
    # Exit statuses that mean "stopped on purpose": supervisord restarts it on any other.
    expected_exit_codes: tuple[int, ...] = ()
    # Non-empty: a supervisord event listener subscribed to these events (it answers on
    # stdin/stdout, so only its stderr is logged).
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    """How to tell the service is ready: `check()` returns None when healthy, else why not."""

    what: str  # shown while waiting, e.g. "Kafka answering metadata requests on :9092"
    check: Callable[[], str | None]
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class Service:
    """A declarative spec. Every hook takes the settings and is idempotent.

    provision: fetch or build what the service runs (cached per version).
    prepare:   create its data once (initdb, storage format); runs after `needs` are healthy.
    programs:  the processes that make up the service.
    bootstrap: create what shopstream expects inside it (topics, bucket, schema).
    """

    name: str
    description: str
    url: Callable[[Settings], str]
    ports: Callable[[Settings], list[int]]
    programs: Callable[[Settings], list[Program]]
    health: Callable[[Settings], Health]
    needs: tuple[str, ...] = ()
    provision: Callable[[Settings], None] | None = None
    is_provisioned: Callable[[], bool] = lambda: True
    prepare: Callable[[Settings], None] | None = None
    bootstrap: Callable[[Settings], None] | None = None
    credentials: str = "-"
    compose_services: tuple[str, ...] = ()  # the containers that play this part under docker
    # The environment of those containers, from the same settings as the host programs'
    # configuration: rendered to .stack/run/compose/<name>.env, their Compose `env_file`.
    compose_environment: Callable[[Settings], dict[str, str]] | None = None
    host_process: bool = False  # runs on the host in every runtime (API, Spark job, generator)
    # Its programs read `.env` themselves (python-dotenv): `invoke up` restarts them when
    # the file's values change, since nothing else in their command or environment would.
    reads_env_file: bool = False
