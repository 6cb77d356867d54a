"""A benchmark's helper loop in a thread of its own, started and stopped by `with`."""

from __future__ import annotations

import threading


class Background:
    """Subclasses define `_run`, a loop that returns once `self._stop` is set."""

    join_timeout_s: float | None = 60.0  # None: wait for the loop's step in flight to end

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(self.join_timeout_s)

    def _run(self) -> None:
        raise NotImplementedError
