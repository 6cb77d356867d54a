"""The traffic generator: fresh Faker events and purchases every second, supervised."""

from __future__ import annotations

import sys

from apps.settings import REPO_ROOT, Settings
from apps.stack import probes
from apps.stack.paths import RUN_DIR
from apps.stack.spec import Health, Program, Service

RATE = 5  # purchases per second; a user runs `invoke generate` for other rates
PROGRESS_FILE = RUN_DIR / "generator-progress.json"  # its figures, for `invoke status`


def health(settings: Settings) -> Health:
    return Health("generator process running", lambda: probes.programs_running("generator"),
                  timeout_seconds=30)


SERVICE = Service(
    name="generator",
    description="Faker traffic generator",
    url=lambda s: "-",
    ports=lambda s: [],
    programs=lambda s: [Program("generator", [sys.executable, "-m", "apps.generator",
                                              "--rate", str(RATE),
                                              "--progress-file", str(PROGRESS_FILE)],
                                cwd=REPO_ROOT)],
    health=health,
    needs=("api",),
    host_process=True,
    reads_env_file=True,
)
