"""The batch half of shopstream: Kafka `UserEvents` into MongoDB, every two minutes.

    land    read what the consumer group has pending, up to the end offsets noted at the
            start; store each event in `user_events` (`_id` from its Kafka coordinates)
            and each unreadable message in `user_events_dead_letter`
    count   fold the same offset range into `user_event_counts` (one document per
            (UserId, EventName)), refusing per document what it already counted
    commit  move the group's offsets past the range, only after both succeeded

Pure transformations live in `documents` and `counts`; `kafka_io` and `mongo_io` are the
edges; `pipeline` composes them into the three steps the DAG runs.
"""
