"""Which log files belong to a service or program name."""

from __future__ import annotations

from pathlib import Path

from apps.settings import get_settings
from apps.stack.paths import LOG_DIR
from apps.stack.services import ALL
from apps.stack.spec import StackError


def log_files(name: str) -> list[Path]:
    settings = get_settings()
    programs = {s.name: [p.name for p in s.programs(settings)] for s in ALL}
    names = programs.get(name) or ([name] if any(name in ps for ps in programs.values()) else None)
    if names is None:
        known = sorted(set(programs) | {p for ps in programs.values() for p in ps})
        raise StackError(f"no service or program named {name!r}; known: {', '.join(known)}")
    files = [LOG_DIR / f"{n}.log" for n in names]
    present = [f for f in files if f.exists()]
    if not present:
        raise StackError(f"no log yet for {name} (looked for {', '.join(map(str, files))})")
    return present
