"""Lines about the DAG's runs as they recorded them: the last run, the lag it left, open
losses (apps/pipeline_status shows the DAG's stage)."""

from __future__ import annotations

from datetime import datetime


def age(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def run_line(run: dict | None, landed: dict | None, now: datetime) -> str:
    if run is None:
        return "no DAG run yet"
    when = run.get("end_date") or run.get("start_date") or run.get("queued_at")
    line = f"last run {run['state']}"
    if when:
        line += f" {age(datetime.fromisoformat(when), now)}"
    if landed:
        line += f", {landed['inserted']} events landed"
    return line


def progress_line(progress: dict | None, open_losses: list[dict], now: datetime) -> str:
    """The lag the last run left (records past its cap, and how long the oldest waits) and
    the losses nobody acknowledged yet, as the runs recorded them."""
    if not progress or not progress.get("LandedAt"):
        line = "no run recorded yet"
    elif progress.get("WaitingRecords"):
        line = f"lag {progress['WaitingRecords']:,} records"
        if progress.get("WaitingSince"):
            line += f", the oldest from {age(progress['WaitingSince'], now)}"
    else:
        line = f"no lag at the last run ({age(progress['LandedAt'], now)})"
    if open_losses:
        records = sum(d["Records"] for d in open_losses)
        line += (f"; {records:,} records LOST in {len(open_losses)} ranges "
                 "(`invoke losses`)")
    return line
