"""The moment an analysis is "as of", and the hour before it: plain Python, so the
processes that only pass them on (`invoke analyze`) start without Spark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apps.analysis.lake import AnalysisError

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class HourWindow:
    """`[start, end)`: the hour before `as_of`."""

    start: datetime
    end: datetime


def as_utc(moment: datetime) -> datetime:
    """A timestamp without an offset is UTC (as in the contract)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_before(as_of: datetime) -> HourWindow:
    end = as_utc(as_of)
    return HourWindow(end - WINDOW, end)


def parse_as_of(value: str | datetime | None) -> datetime:
    """None or '' is now; an ISO 8601 timestamp without an offset is UTC."""
    if value is None or value == "":
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise AnalysisError(f"as_of {value!r} is not an ISO 8601 timestamp "
                            f"(e.g. 2026-11-28T12:00:00Z)") from None
