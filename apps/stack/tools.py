"""Running the command-line tools the stack relies on (mvn, go, kafka-storage, docker,
supervisord): a failure becomes one StackError that carries the tool's last output lines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from apps.stack.spec import StackError


def run_tool(argv: list[str], *, what: str, env: dict[str, str] | None = None,
             cwd: Path | None = None, error: type[StackError] = StackError) -> None:
    try:
        proc = subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})},
                              capture_output=True, text=True)
    except OSError as exc:  # the tool itself is missing or cannot run
        raise error(f"{what} failed: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise error(f"{what} failed (exit {proc.returncode}):\n{tail}")
