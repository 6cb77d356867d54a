"""The stack's profiles: which servers `invoke up` runs, and where their state lives.

- `default`: one Kafka broker and Spark in local mode; state in `.stack/`.
- `cluster`: three Kafka brokers (replication 3, `min.insync.replicas` 2) and a Spark
  standalone master and worker; state in `.stack/cluster/`, so neither profile ever
  resumes from the other's checkpoints, offsets or lake.

A profile changes endpoints, not `.env`: its settings are laid over `.env`'s by
`apps.settings.get_settings` in every process. The active profile is `STACK_PROFILE` in
the environment (supervisord gives it to every program it runs) or, for a command typed
in a shell, the one `invoke up` last started (`.stack/profile`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE_VARIABLE = "STACK_PROFILE"
MARKER = REPO_ROOT / ".stack" / "profile"  # the profile `invoke up` last started


@dataclass(frozen=True)
class Profile:
    name: str
    state_dir: Path  # data, logs, run files
    # Laid over `.env` (a variable set in the environment still wins, as with `.env`).
    settings: dict[str, str] = field(default_factory=dict)
    spark_standalone: bool = False  # run a Spark master and worker

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT


DEFAULT = "default"
# The cluster's endpoints. Broker n listens on 9092 + 2(n-1) and its controller on the
# port after it (apps/stack/services/kafka.py); the Spark master on 7077, Spark's own.
CLUSTER_BROKERS = "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
CLUSTER_SPARK_MASTER = "spark://127.0.0.1:7077"

PROFILES = {
    DEFAULT: Profile(DEFAULT, REPO_ROOT / ".stack"),
    "cluster": Profile("cluster", REPO_ROOT / ".stack" / "cluster",
                       {"kafka_bootstrap_servers": CLUSTER_BROKERS,
                        "kafka_controller_port": "9093",
                        "spark_master": CLUSTER_SPARK_MASTER},
                       spark_standalone=True),
}


class UnknownProfile(ValueError):
    pass


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown profile {name!r}: one of {', '.join(PROFILES)}") from None


def started_profile() -> str:
    """The profile `invoke up` last started ("default" before any)."""
    try:
        return MARKER.read_text().strip() or DEFAULT
    except FileNotFoundError:
        return DEFAULT


def active() -> Profile:
    return profile(os.environ.get(PROFILE_VARIABLE) or started_profile())


def settings_overrides(chosen: Profile, environ: dict[str, str] | os._Environ = os.environ
                       ) -> dict[str, str]:
    """The profile's settings that the environment does not set itself."""
    return {key: value for key, value in chosen.settings.items() if key.upper() not in environ}
