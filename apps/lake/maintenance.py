"""Lake maintenance: each period's small files rewritten into a few large ones, then the
files no recent snapshot needs removed after a grace period.

    python -m apps.lake.maintenance [--closed] [--root PREFIX/]

The stream adds a file per period per batch (360 an hour); a reader pays for each file,
so maintenance keeps a reader's cost on rows. A period is closed once nothing was added
to it for `QUIET` (its `dt` is the purchase's own date: a late record reopens it, and it
is simply compacted again later). The scheduled run (DAG `lake_maintenance`) compacts
closed periods; `invoke compact` every period with more than one file, quiet or not.

Each period is one commit of delta-rs's compaction, beside the stream's appends (both
commit by conditional PUT): a run killed midway leaves every period either as it was or
compacted, never both, and is simply run again. Files a compaction replaced stay in the
store, out of the table, until a vacuum after `GRACE`, longer than any reader runs.
One run works on a table at a time, under its lease (apps/lake/lease.py): two compactions
of the same period would both commit, and double it.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from deltalake import CommitProperties
from deltalake.exceptions import CommitFailedError, DeltaError

from apps.lake.figures import MaintenanceRecord, Period, periods_of, table_figures
from apps.lake.lease import Lease, LeaseHeld
from apps.lake.runs import record_run
from apps.lake.tables import PERIOD, QUARANTINE_TABLE, RAW_TABLE, LakeTable, open_table
from apps.settings import Settings, get_settings
from apps.stack.spec import StackError

log = logging.getLogger(__name__)

QUIET = timedelta(minutes=30)
GRACE = timedelta(hours=2)
TARGET_FILE_BYTES = 128 * 2**20
MAINTENANCE_KEY = "shopstream.maintenance"


def to_compact(periods: list[Period], now: datetime, closed_only: bool,
               quiet: timedelta = QUIET) -> list[Period]:
    """The periods worth rewriting: more than one file, and with `closed_only` quiet for
    `quiet` (nothing added since)."""
    return [p for p in periods
            if p.files > 1 and (not closed_only or now - p.last_added >= quiet)]


def retention_hours(grace: timedelta) -> int:
    """The grace in delta-rs's whole hours, rounded up: a grace is a floor, and 30 minutes
    rounded down would be none at all."""
    return math.ceil(grace.total_seconds() / 3600)


@dataclass
class Figures:
    table: str
    periods_compacted: int = 0
    periods_left: int = 0  # a conflicting commit came first: the next run's
    held_by: str = ""  # another run held the table's lease: nothing done
    files_before: int = 0
    files_after: int = 0
    files_vacuumed: int = 0
    seconds: float = 0.0


Say = Callable[[str], None]


class StoreUnreachable(StackError):
    """The S3 store did not answer: nothing was read or written."""


def check_store(settings: Settings) -> None:
    """One quick signed request first, for a one-line answer: delta-rs retries a refused
    connection for seconds (a silent one much longer), then raises a many-line chain of
    causes."""
    from apps.stack.services.s3 import health

    reason = health(settings).check()
    if reason:
        raise StoreUnreachable(f"the S3 store at {settings.s3_endpoint_url} does not answer "
                               f"({reason}); is the stack up (`invoke up`)?")


def maintain(settings: Settings, table: LakeTable, closed_only: bool,
             say: Say = log.info, grace: timedelta = GRACE) -> Figures:
    """Compact `table`'s periods (each one commit), then vacuum what no snapshot younger
    than `grace` needs; under the table's lease, or not at all while another run holds it."""
    started = time.monotonic()
    figures = Figures(table.area)
    delta = open_table(settings, table)
    if delta is None:
        say(f"{table.area}: no table at {table.uri(settings)}, nothing to do")
        return figures
    try:
        with Lease(settings, table) as lease:
            compact_and_vacuum(delta, table, closed_only, grace, lease, figures, say)
    except LeaseHeld as held:
        figures.held_by = str(held)
        say(f"{table.area}: skipped, {held}")
        return figures
    figures.seconds = round(time.monotonic() - started, 3)
    finished = datetime.now(UTC)
    record_run(settings, table, MaintenanceRecord(
        finished, asdict(figures), table_figures(delta, table.area, "maintenance", finished)))
    say(f"{table.area}: {figures.periods_compacted} periods compacted "
        f"({figures.files_before} files -> {figures.files_after}), "
        + (f"{figures.periods_left} left for the next run, " if figures.periods_left else "")
        + f"{figures.files_vacuumed} superseded files removed, {figures.seconds:.1f} s")
    return figures


def compact_and_vacuum(delta, table: LakeTable, closed_only: bool, grace: timedelta,
                       lease: Lease, figures: Figures, say: Say) -> None:
    todo = to_compact(periods_of(delta.get_add_actions(flatten=True)), datetime.now(UTC),
                      closed_only)
    for i, period in enumerate(todo, 1):
        lease.check()
        period_started = time.monotonic()
        delta.update_incremental()  # the stream may have committed since
        try:
            result = delta.optimize.compact(
                partition_filters=[(PERIOD, "=", period.name)], target_size=TARGET_FILE_BYTES,
                commit_properties=CommitProperties(custom_metadata={
                    MAINTENANCE_KEY: f"compact {table.area} {PERIOD}={period.name}"}))
        except CommitFailedError as exc:
            # A commit delta-rs cannot reconcile with this one (appends never are): nothing
            # of this attempt is in the table.
            figures.periods_left += 1
            say(f"{table.area} {PERIOD}={period.name}: left for the next run, a conflicting "
                f"commit came first ({exc}) ({i} of {len(todo)})")
            continue
        figures.periods_compacted += 1
        figures.files_before += result["numFilesRemoved"]
        figures.files_after += result["numFilesAdded"]
        say(f"{table.area} {PERIOD}={period.name}: {result['numFilesRemoved']} files -> "
            f"{result['numFilesAdded']} in {time.monotonic() - period_started:.1f} s "
            f"({i} of {len(todo)})")
    lease.check()
    delta.update_incremental()
    # Lite mode (full=False): only files the log itself removed, once older than the grace.
    # A full vacuum would also delete every file the log never named: a writer's file not
    # yet committed, or anything else kept under the table's folder.
    removed = delta.vacuum(retention_hours=retention_hours(grace), dry_run=False,
                           enforce_retention_duration=False, full=False)
    figures.files_vacuumed = len(removed)


def maintain_lake(settings: Settings, closed_only: bool, root: str = "",
                  say: Say = log.info, grace: timedelta = GRACE) -> list[Figures]:
    """Both tables of the lake under `root`; StoreUnreachable before anything if the S3
    store does not answer."""
    check_store(settings)
    return [maintain(settings, t.under(root), closed_only, say, grace)
            for t in (RAW_TABLE, QUARANTINE_TABLE)]


def lake_root(text: str) -> str:
    """A `--root`: empty (the pipeline's lake) or a prefix ending in '/'."""
    if text and (not text.endswith("/") or text.startswith("/")):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a lake prefix is relative and ends with '/', e.g. tests/maint-1/")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="compact the lake's periods, then vacuum")
    parser.add_argument("--closed", action="store_true",
                        help=f"only periods quiet for {QUIET} (the schedule's way)")
    parser.add_argument("--root", default="", type=lake_root,
                        help="a lake prefix ending in '/' ('' = the pipeline's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stdout)  # one stream: a caller reads progress in order
    try:
        maintain_lake(get_settings(), args.closed, args.root)
    except (StackError, DeltaError, OSError) as exc:  # LeaseLost is a StackError
        log.error("lake maintenance failed: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
