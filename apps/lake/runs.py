"""Where the runs that change the lake record its figures (apps/lake/figures.py), and
where `invoke status` reads them: status never lists the lake.

    the stream            a small JSON file beside its progress file, after each commit
    a maintenance run     s3://<bucket>/<root><area>/_maintenance/last-run.json, at its end
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from minio.error import S3Error

from apps.lake.figures import LakeFigures, MaintenanceRecord, describe, newest
from apps.lake.names import QUARANTINE_TABLE, RAW_TABLE, LakeTable
from apps.settings import Settings
from apps.stack.services.s3 import minio_client


def run_key(table: LakeTable) -> str:
    return f"{table.root}{table.area}/_maintenance/last-run.json"


def record_run(settings: Settings, table: LakeTable, record: MaintenanceRecord) -> None:
    data = record.to_json()
    minio_client(settings).put_object(settings.s3_bucket, run_key(table), io.BytesIO(data),
                                      len(data), content_type="application/json")


def last_run(settings: Settings, table: LakeTable, http_client=None) -> MaintenanceRecord | None:
    """The last run recorded for `table`, or None before the first."""
    try:
        response = minio_client(settings, http_client).get_object(settings.s3_bucket,
                                                                   run_key(table))
    except S3Error as error:
        if error.code == "NoSuchKey":
            return None
        raise
    try:
        return MaintenanceRecord.from_json(response.read())
    finally:
        response.close()
        response.release_conn()


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class LakeFiguresFile:
    """The stream's tables' figures (apps/lake/figures.py) after each commit, in `path`
    (replaced atomically): what `invoke status` shows of the lake between maintenance runs."""

    def __init__(self, path: Path):
        self.path = path
        # a table this run has not committed to yet keeps what the last run recorded
        self.tables = {area: f.to_json() for area, f in recorded_lake_figures(path).items()}

    def record(self, figures: LakeFigures) -> None:
        self.tables[figures.area] = figures.to_json()
        write_atomically(self.path, json.dumps(self.tables))


def recorded_lake_figures(path: Path) -> dict[str, LakeFigures]:
    """What the stream last recorded, by table area (none before its first commit)."""
    try:
        return {area: LakeFigures.from_json(value)
                for area, value in json.loads(path.read_text()).items()}
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def lake_lines(settings: Settings, stream_figures_file: Path, root: str = "",
               http_client=None) -> list[str]:
    """Each table's line for `invoke status`: the newer of the stream's and the last
    maintenance run's figures, and that run."""
    stream = recorded_lake_figures(stream_figures_file)
    now, lines = datetime.now(UTC), []
    for table in (RAW_TABLE.under(root), QUARANTINE_TABLE.under(root)):
        run = last_run(settings, table, http_client)
        figures = newest(stream.get(table.area), run.lake if run else None)
        lines.append(describe(table.area, figures, run, now))
    return lines
