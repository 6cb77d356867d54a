"""Where shopstream keeps things: run state in the repo, artifacts in a per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

from apps import profiles
from apps.settings import REPO_ROOT

PROFILE = profiles.active()  # decided once per process: its state is in one place
# Run state: data, logs, supervisor files (git-ignored): `.stack/`, or the profile's own.
STACK_DIR = PROFILE.state_dir
DATA_DIR = STACK_DIR / "data"
LOG_DIR = STACK_DIR / "logs"
RUN_DIR = STACK_DIR / "run"
CONFIG_DIR = REPO_ROOT / "config"


def cache_dir() -> Path:
    """Per-user cache of downloaded and built artifacts, shared by every clone."""
    explicit = os.environ.get("SHOPSTREAM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "shopstream"


def data_dir(service: str) -> Path:
    return DATA_DIR / service

# The PATH a supervised program gets where it needs one: fixed, never the caller's, so the
# supervisord config is the same whichever shell runs `invoke up`.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
