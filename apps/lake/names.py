"""The lake's two tables by name and place: light enough for `invoke status` to import
(apps/lake/tables.py, which reads and writes them, needs deltalake and pyarrow)."""

from __future__ import annotations

from dataclasses import dataclass

from apps.settings import Settings


@dataclass(frozen=True)
class LakeTable:
    area: str  # "raw" or "quarantine"
    period_of: str  # the timestamp column whose UTC date is the row's period
    root: str = ""

    def uri(self, settings: Settings) -> str:
        return f"s3://{settings.s3_bucket}/{self.root}{self.area}"

    def under(self, root: str) -> LakeTable:
        return LakeTable(self.area, self.period_of, root)


RAW_TABLE = LakeTable("raw", "TimeStamp")
QUARANTINE_TABLE = LakeTable("quarantine", "kafka_timestamp")
