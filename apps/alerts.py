"""Failure alerts: one JSON message to `ALERT_WEBHOOK_URL`, when it is set.

The DAG's failure callback and the streaming job's watcher both post through here. An
alert is a courtesy: an unset URL means no alert, and a webhook that is down or slow is
logged, never raised, so it cannot fail the work it reports on.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0


def post_alert(webhook_url: str | None, message: dict) -> bool:
    """POST `message` as JSON to `webhook_url`; True when it answered 2xx."""
    if not webhook_url:
        return False
    try:
        response = httpx.post(webhook_url, json=message, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning("alert not delivered to the webhook: %s", exc)
        return False
    if not response.is_success:
        log.warning("alert webhook answered %s", response.status_code)
    return response.is_success
