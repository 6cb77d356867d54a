"""`invoke down`: stop everything; `--wipe` also deletes the run state in .stack/."""

from __future__ import annotations

import shutil

from rich.console import Console

from apps.console import make_console
from apps.settings import ENV_FILE, get_settings
from apps.stack.paths import DATA_DIR, PROFILE, STACK_DIR
from apps.stack.runtime import Runtime, choose
from apps.stack.supervisor import Supervisor, profile_supervisor, running_profiles


def down(wipe: bool = False, console: Console | None = None) -> None:
    console = console or make_console()
    settings = get_settings() if ENV_FILE.exists() else None
    runtime = choose(settings) if settings else Runtime("native", Supervisor())
    with console.status("stopping every shopstream process"):
        runtime.stop_all(settings, wipe=wipe)
        for other in running_profiles():  # whichever profile runs, `invoke down` stops it
            profile_supervisor(other).shutdown()
    console.print(f"[green]✔[/] stopped ({PROFILE.name} profile)")
    if wipe and STACK_DIR.exists():
        for link in (p for p in DATA_DIR.glob("*") if p.is_symlink()):
            shutil.rmtree(link.resolve(), ignore_errors=True)  # data kept outside the repo
        shutil.rmtree(STACK_DIR)
        console.print(f"[green]✔[/] deleted {STACK_DIR}")
