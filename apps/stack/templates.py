"""Server configuration files are templates in `config/`, rendered into `.stack/run/`.

Rendering is pure: a spec describes the files its programs need, and the supervisor
writes them when `invoke up` applies the configuration. Computing a spec (as `invoke
status` and the tests do) never touches the running stack's files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

from apps.stack.paths import CONFIG_DIR, RUN_DIR


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    text: str

    def write(self) -> None:
        """Write it (owner-only: configs hold secrets) unless it already says the same."""
        if not self.path.exists() or self.path.read_text() != self.text:
            write_private(self.path, self.text)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only from its first byte (no window
    at the default umask) and never half-written (a rename of a complete file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)  # an old tmp file may have had wider bits
    os.replace(tmp, path)


def render(template: str, target: str | None = None, **values: object) -> ConfigFile:
    """`config/<template>` with its `${name}` placeholders filled, bound for
    `.stack/run/<target>` (the template's own path unless one is given)."""
    text = Template((CONFIG_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    return ConfigFile(RUN_DIR / (target or template), text)
