"""Server configuration files are templates in `config/`, rendered into `.stack/run/`."""

from __future__ import annotations

from pathlib import Path
from string import Template

from apps.stack.paths import CONFIG_DIR, RUN_DIR


def render(template: str, **values: object) -> Path:
    """Render `config/<template>` with `${name}` placeholders into `.stack/run/<template>`."""
    text = Template((CONFIG_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    target = RUN_DIR / template
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    target.chmod(0o600)
    return target
