"""The query's listener: one line in the log per batch, the last batch in a small JSON file
(progress.summary's shape) that `invoke status` reads."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pyspark.sql.streaming import StreamingQueryListener

from apps.lake.runs import write_atomically
from apps.purchase_stream.progress import summary

log = logging.getLogger("purchase_stream")


class ProgressFile(StreamingQueryListener):
    """Logs each batch and keeps the last one in `path` (replaced atomically)."""

    def __init__(self, path: Path, topic_id: str):
        self.path, self.topic_id = path, topic_id

    def onQueryStarted(self, event) -> None:
        log.info("query %s started (run %s)", event.id, event.runId)

    def onQueryProgress(self, event) -> None:
        line = summary(json.loads(event.progress.json), self.topic_id)
        log.info("batch %(batch_id)s: %(input_rows)s rows, %(input_rows_per_second).1f rows/s in, "
                 "%(processed_rows_per_second).1f rows/s processed, %(duration_ms)s ms", line)
        write_atomically(self.path, json.dumps(line))

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        log.warning("query %s terminated: %s", event.id, event.exception or "stopped")
