"""Server configuration files are templates in `config/`, rendered into `.stack/run/`.

Rendering is pure: a spec describes the files its programs need, and the supervisor
writes them when `invoke up` applies the configuration. Computing a spec (as `invoke
status` and the tests do) never touches the running stack's files.
"""

from __future__ import annotations

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.read_text() != self.text:
            self.path.write_text(self.text)
        self.path.chmod(0o600)


def render(template: str, **values: object) -> ConfigFile:
    """`config/<template>` with its `${name}` placeholders filled, bound for `.stack/run/`."""
    text = Template((CONFIG_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    return ConfigFile(RUN_DIR / template, text)
