"""Two ways to run the same specs: host processes under supervisord, or Compose containers.

Host processes (API, generator, Spark job) run under supervisord in both runtimes.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, replace

from apps.settings import REPO_ROOT, Settings, settings_digest
from apps.stack.paths import RUN_DIR
from apps.stack.spec import Program, Service
from apps.stack.supervisor import Supervisor
from apps.stack.templates import ConfigFile
from apps.stack.tools import run_tool

COMPOSE_FILE = REPO_ROOT / "compose" / "docker-compose.yml"
COMPOSE_ENV_DIR = RUN_DIR / "compose"  # the Compose file's env_file entries point here
# In the environment of each program that reads `.env`: its values' fingerprint, so the
# supervisord config, and with it the program, changes when they do.
SETTINGS_DIGEST = "SHOPSTREAM_SETTINGS_DIGEST"


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class Runtime:
    name: str  # "native" or "docker"
    supervisor: Supervisor

    def on_host(self, service: Service) -> bool:
        """Does this runtime run the service's programs as host processes?"""
        return self.name == "native" or service.host_process

    def host_programs(self, services: list[Service], settings: Settings) -> list[Program]:
        digest = {SETTINGS_DIGEST: settings_digest(settings)}
        return [replace(p, env={**p.env, **digest}) if s.reads_env_file else p
                for s in services if self.on_host(s) for p in s.programs(settings)]

    def start(self, service: Service, settings: Settings) -> None:
        if self.on_host(service):
            if service.prepare:
                service.prepare(settings)
            for program in service.programs(settings):
                self.supervisor.start(program.name)
        else:
            compose(settings, "up", "--detach", "--wait", *service.compose_services)

    def stop_all(self, settings: Settings | None, wipe: bool = False) -> None:
        """Stop every process; under docker also the containers (`wipe`: and their volumes)."""
        self.supervisor.shutdown()
        if self.name == "docker" and settings is not None:
            compose(settings, *(("down", "--volumes") if wipe else ("stop",)))


def compose_ports(settings: Settings) -> dict[str, str]:
    """The ports the Compose file reads, derived from `.env`'s URLs through the service
    specs: the containers follow a port changed in `.env`, as the native servers do."""
    from apps.stack.services import ALL

    ports = {s.name: s.ports(settings) for s in ALL}
    return {name: str(port) for name, port in {
        "KAFKA_PORT": ports["kafka"][0], "KAFKA_CONTROLLER_PORT": ports["kafka"][1],
        "MONGO_PORT": ports["mongo"][0], "S3_PORT": ports["s3"][0],
        "S3_CONSOLE_PORT": settings.s3_console_port, "POSTGRES_PORT": ports["postgres"][0],
        "AIRFLOW_PORT": ports["airflow"][0],
    }.items()}


def env_file_text(environment: dict[str, str]) -> str:
    """A Compose env_file: single-quoted values are taken as they are (no `$` expansion)."""
    bad = [k for k, v in environment.items() if "'" in v or "\n" in v]
    if bad:
        raise ValueError(f"cannot write {', '.join(bad)} to an env_file: a quote or newline")
    return "".join(f"{k}='{v}'\n" for k, v in environment.items())


def compose_env_files(settings: Settings) -> list[ConfigFile]:
    """Each service's container environment, derived from the settings its host programs
    use (one home for both runtimes), as the env_file Compose reads."""
    from apps.stack.services import ALL

    return [ConfigFile(COMPOSE_ENV_DIR / f"{s.name}.env",
                       env_file_text(s.compose_environment(settings)))
            for s in ALL if s.compose_environment]


def compose(settings: Settings, *args: str) -> None:
    for env_file in compose_env_files(settings):
        env_file.write()  # private: it holds secrets
    run_tool(["docker", "compose", "--env-file", str(REPO_ROOT / ".env"),
              "-f", str(COMPOSE_FILE), *args], env=compose_ports(settings),
             what=f"docker compose {' '.join(args)}")


def choose(settings: Settings) -> Runtime:
    name = settings.stack_runtime
    if name == "auto":
        name = "docker" if docker_engine_answers() else "native"
    return Runtime(name, Supervisor())
