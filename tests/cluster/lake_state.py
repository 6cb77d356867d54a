"""Prints, as JSON, what the active profile's pipeline holds of `PurchasedItem`: the
topic's end offsets and id, and the raw table's version, rows and marks, once the stream
has caught up with the topic. Run in a profile with `STACK_PROFILE=<name>`."""

import json
import sys
import time

from apps.contract.models import PURCHASES_TOPIC
from apps.kafka_admin import describe_topic
from apps.lake import tables
from apps.lake.tables import RAW_TABLE
from apps.purchase_stream.progress import topic_end_offsets
from apps.settings import get_settings
from apps.stack.paths import PROFILE

CATCH_UP_S = 600


def main() -> None:
    settings = get_settings()
    topic_id = describe_topic(settings, PURCHASES_TOPIC).topic_id
    ends = {p: end for (_, p), end in topic_end_offsets(settings, [PURCHASES_TOPIC]).items()}
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        marks = tables.committed_marks(settings, RAW_TABLE, PURCHASES_TOPIC, topic_id)
        held = {p: marks.ends.get(p, 0) for p in ends}
        if all(held[p] >= ends[p] for p in ends):
            break
        if time.monotonic() > deadline:
            sys.exit(f"the stream did not catch up in {CATCH_UP_S} s: {held} < {ends}")
        time.sleep(5)
    rows = tables.read(settings, RAW_TABLE)
    print(json.dumps({"profile": PROFILE.name, "topic_id": topic_id, "ends": ends,
                      "marks": held, "version": tables.snapshot(settings, RAW_TABLE).version,
                      "rows": 0 if rows is None else rows.num_rows}))


if __name__ == "__main__":
    main()
