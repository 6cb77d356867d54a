from datetime import UTC, datetime, timedelta

import pyarrow as pa

from apps.lake.figures import (
    LakeFigures, MaintenanceRecord, Period, describe, figures_of, newest, periods_of, size,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def adds(*files: tuple[str, int, datetime]) -> pa.Table:
    """What delta-rs `get_add_actions(flatten=True)` gives, reduced to what is read."""
    return pa.table({"partition.dt": [f[0] for f in files], "size_bytes": [f[1] for f in files],
                     "modification_time": [int(f[2].timestamp() * 1000) for f in files]})


def test_periods_group_live_files_with_their_bytes_and_last_addition():
    early, late = NOW - timedelta(hours=2), NOW - timedelta(minutes=1)
    assert periods_of(adds(("2026-12-02", 10, early), ("2026-12-01", 5, early),
                           ("2026-12-02", 20, late))) == [
        Period("2026-12-01", 1, 5, early), Period("2026-12-02", 2, 30, late)]


def test_the_oldest_uncompacted_period_is_the_oldest_with_more_than_one_file():
    periods = [Period("2026-11-30", 1, 100, NOW), Period("2026-12-01", 3, 30, NOW),
               Period("2026-12-02", 2, 20, NOW)]
    assert figures_of("raw", 9, periods, NOW, "stream") == LakeFigures(
        "raw", 9, 6, 150, "2026-12-01", NOW, "stream")
    compacted = figures_of("raw", 9, periods[:1], NOW, "maintenance")
    assert compacted.oldest_uncompacted is None
    assert figures_of("raw", 0, [], NOW, "stream").files == 0


def test_status_shows_the_figures_of_the_latest_version_whoever_recorded_them():
    stream = LakeFigures("raw", 40, 12, 1, "2026-12-01", NOW, "stream")
    run = LakeFigures("raw", 41, 3, 1, None, NOW - timedelta(seconds=5), "maintenance")
    assert newest(stream, run) is run
    assert newest(stream, None) is stream
    assert newest(None, None) is None


def test_figures_and_runs_survive_their_json_form():
    figures = LakeFigures("quarantine", 3, 2, 900, "2026-12-01", NOW, "maintenance")
    assert LakeFigures.from_json(figures.to_json()) == figures
    record = MaintenanceRecord(NOW, {"periods_compacted": 2, "files_vacuumed": 7}, figures)
    assert MaintenanceRecord.from_json(record.to_json()) == record


def test_one_line_per_table_with_the_age_of_each_record():
    figures = LakeFigures("raw", 7, 1234, 5 * 2**20, "2026-11-30", NOW - timedelta(seconds=8),
                          "stream")
    run = MaintenanceRecord(NOW - timedelta(minutes=42),
                            {"periods_compacted": 2, "files_vacuumed": 700},
                            figures)
    assert describe("raw", figures, run, NOW) == (
        "raw v7: 1,234 files, 5.0 MiB, oldest uncompacted dt=2026-11-30 (stream, 8 s ago); "
        "maintenance 42 min ago: 2 periods compacted, 700 files vacuumed")
    assert describe("raw", None, run, NOW).startswith("raw: nothing recorded yet; maintenance")
    assert describe("quarantine", None, None, NOW) == (
        "quarantine: nothing recorded yet; no maintenance run recorded")


def test_sizes_read_at_a_glance():
    assert [size(n) for n in (512, 2048, 3 * 2**30 // 2)] == ["512 B", "2.0 KiB", "1.5 GiB"]
