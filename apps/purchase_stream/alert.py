"""A supervisord event listener: the stream job died -> one JSON message to the webhook.

A job killed with `kill -9` cannot report itself, so whatever watches it does: supervisord
tells this listener each time the program exits unexpectedly or gives up (FATAL). One
message per streak of failures, not one per restart: a streak ends once the job completes
a batch after its latest failure (the progress file is newer than that failure).

    python -m apps.purchase_stream.alert --program purchase-stream --progress-file FILE
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apps.alerts import post_alert
from apps.purchase_stream.config import PROGRESS_FILE

FAILURES = ("PROCESS_STATE_EXITED", "PROCESS_STATE_FATAL")
log = logging.getLogger(__name__)


def parse_payload(payload: str) -> dict[str, str]:
    """`processname:x groupname:x from_state:RUNNING expected:0 pid:1` -> a dict."""
    head = payload.split("\n", 1)[0]
    return dict(token.split(":", 1) for token in head.split() if ":" in token)


def is_failure(event: str, fields: dict[str, str], program: str) -> bool:
    if fields.get("processname") != program or event not in FAILURES:
        return False
    return event == "PROCESS_STATE_FATAL" or fields.get("expected") == "0"


def failure_message(event: str, fields: dict[str, str], at: datetime) -> dict:
    program = fields.get("processname", "?")
    if event == "PROCESS_STATE_FATAL":
        what = f"{program} could not be started and supervisord gave up restarting it"
    else:
        what = (f"{program} (pid {fields.get('pid', '?')}) died unexpectedly; supervisord "
                f"restarts it from its checkpoint")
    return {"source": "shopstream", "program": program, "event": event, "message": what,
            "at": at.isoformat()}


@dataclass
class FailureStreak:
    """Decides which failures start a new streak (and so deserve a message)."""

    in_streak: bool = False
    last_failure: float = 0.0  # epoch seconds

    def failed(self, now: float, last_batch_at: float | None) -> bool:
        """Record a failure at `now`; True when it opens a new streak."""
        recovered = last_batch_at is not None and last_batch_at > self.last_failure
        opens = not self.in_streak or recovered
        self.in_streak, self.last_failure = True, now
        return opens


def last_batch_at(progress_file: Path) -> float | None:
    try:
        return progress_file.stat().st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str]) -> None:
    from supervisor import childutils

    from apps.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--program", default="purchase-stream")
    parser.add_argument("--progress-file", type=Path, default=PROGRESS_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # stdout is the protocol
    streak = FailureStreak()
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        event, fields = headers["eventname"], parse_payload(payload)
        if is_failure(event, fields, args.program):
            now = datetime.now(UTC)
            if streak.failed(now.timestamp(), last_batch_at(args.progress_file)):
                message = failure_message(event, fields, now)
                log.warning("alert: %s", message["message"])
                post_alert(get_settings().alert_webhook_url, message)
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
