"""What a run of the stream reads, writes and remembers: the pipeline's defaults, or a
test's or benchmark's own topic, prefix and checkpoint (command-line arguments)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from apps.contract.models import PURCHASES_TOPIC
from apps.settings import REPO_ROOT
from apps.stack.paths import RUN_DIR, data_dir

JOB_SCRIPT = REPO_ROOT / "jobs" / "purchases_to_lake.py"
# SPARK_LOCAL_IP: Spark's web UI binds every interface without it.
# PYSPARK_PYTHON: the executors' Python workers run this interpreter (its packages).
JOB_ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}

# The job's exit status when it stops on records lost before it read them: supervisord
# leaves it stopped (apps/purchase_stream/resume.py).
EXIT_DATA_LOST = 3

TRIGGER_SECONDS = 10.0
# This bounds a batch's rows, and so a writer task's memory (writer.py), when the job
# starts far behind.
MAX_OFFSETS_PER_TRIGGER = 20_000
CHECKPOINT = data_dir("purchase-stream") / "checkpoint"  # local disk: atomic rename
PROGRESS_FILE = RUN_DIR / "purchase-stream-progress.json"


@dataclass(frozen=True)
class StreamConfig:
    topic: str = PURCHASES_TOPIC
    root: str = ""  # lake prefix in the bucket: "" -> raw/ and quarantine/ at the top
    checkpoint: Path = CHECKPOINT
    progress_file: Path = PROGRESS_FILE
    trigger_seconds: float = TRIGGER_SECONDS
    max_offsets_per_trigger: int = MAX_OFFSETS_PER_TRIGGER

    @property
    def lake_figures_file(self) -> Path:
        """Where the stream records its tables' figures (progress.LakeFiguresFile)."""
        return self.progress_file.with_suffix(".lake.json")

    def __post_init__(self):
        if self.root and (self.root.startswith("/") or not self.root.endswith("/")):
            raise ValueError(f"root must be empty or a relative prefix ending in '/': {self.root!r}")
        if self.trigger_seconds <= 0:
            raise ValueError(f"trigger_seconds must be positive: {self.trigger_seconds}")
        if self.max_offsets_per_trigger < 1:
            raise ValueError(
                f"max_offsets_per_trigger must be at least 1: {self.max_offsets_per_trigger}")


def parse_args(argv: list[str]) -> StreamConfig:
    defaults = StreamConfig()
    parser = argparse.ArgumentParser(description="Kafka purchases -> Parquet in the S3 store")
    parser.add_argument("--topic", default=defaults.topic)
    parser.add_argument("--root", default=defaults.root,
                        help="lake prefix inside the bucket, e.g. scratch/run-1/ ('' = top)")
    parser.add_argument("--checkpoint", type=Path, default=defaults.checkpoint)
    parser.add_argument("--progress-file", type=Path, default=defaults.progress_file)
    parser.add_argument("--trigger-seconds", type=float, default=defaults.trigger_seconds)
    parser.add_argument("--max-offsets-per-trigger", type=int,
                        default=defaults.max_offsets_per_trigger)
    args = parser.parse_args(argv)
    try:
        return StreamConfig(**vars(args))
    except ValueError as error:
        parser.error(str(error))


def job_argv(config: StreamConfig) -> list[str]:
    """The command that runs the job with this configuration (`parse_args` reads it back)."""
    return [sys.executable, str(JOB_SCRIPT), "--topic", config.topic, "--root", config.root,
            "--checkpoint", str(config.checkpoint), "--progress-file", str(config.progress_file),
            "--trigger-seconds", str(config.trigger_seconds),
            "--max-offsets-per-trigger", str(config.max_offsets_per_trigger)]
