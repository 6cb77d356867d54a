"""Create `.env` from `config/.env.example`, replacing placeholders with fresh secrets."""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

from apps.settings import ENV_FILE
from apps.stack.paths import CONFIG_DIR
from apps.stack.templates import write_private

TEMPLATE = CONFIG_DIR / ".env.example"
GENERATORS = {
    "secret": lambda: secrets.token_hex(24),
    # Airflow's Fernet key: 32 random bytes, URL-safe base64.
    "fernet-key": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
}
PLACEHOLDER = re.compile(r"<generated-([a-z-]+)>")


def fill_secrets(template: str) -> str:
    """Each `<generated-KIND>` placeholder becomes its own fresh random value."""
    return PLACEHOLDER.sub(lambda m: GENERATORS[m.group(1)](), template)


def ensure_env(path: Path = ENV_FILE) -> bool:
    """Write `.env` if it is missing (never overwrite). True when it was created."""
    if path.exists():
        return False
    write_private(path, fill_secrets(TEMPLATE.read_text()))
    return True
