"""The DAG's pure transformations: documents, dead letters, counts and their guards."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from bson import Binary

from apps.contract.models import UserEvent, kafka_value
from apps.user_events.counts import (
    COUNTED, PairEvents, Span, count_id, count_update, counting_starts, ranges_from_json,
    ranges_to_json, tally,
)
from apps.user_events.documents import Coordinates, parse_event, to_document

TOPIC_ID = "e9d05b42-6dcc-43f2-bf85-024a74774e72"
AT = Coordinates("UserEvents", 2, 41, TOPIC_ID)
NOW = datetime(2026, 11, 28, 23, 0, 0, 123456, tzinfo=UTC)


def event(**changes) -> UserEvent:
    fields = {"UserId": "u-1", "SessionId": "s-1", "EventName": "AddedBasket",
              "TimeStamp": "2026-11-28T12:00:00.987654+02:00",
              "Attributes": {"ProductId": "p-7", "Price": 19.99, "Discount": 2.0}} | changes
    return UserEvent.model_validate_json(json.dumps(fields))


def test_event_document_keeps_the_contract_fields_coordinates_and_ingestion_time():
    e = event()
    valid, doc = to_document(b"u-1", kafka_value(e), AT, NOW)
    assert valid
    assert doc == {
        "_id": "UserEvents:2:41",
        "UserId": "u-1", "SessionId": "s-1", "EventName": "AddedBasket",
        "TimeStamp": datetime(2026, 11, 28, 10, 0, 0, 987000, tzinfo=UTC),
        "Attributes": {"ProductId": "p-7", "Price": 19.99, "Discount": 2.0},
        "Kafka": {"Topic": "UserEvents", "TopicId": TOPIC_ID, "Partition": 2, "Offset": 41},
        "IngestedAt": datetime(2026, 11, 28, 23, 0, 0, 123000, tzinfo=UTC),
    }
    assert type(doc["EventName"]) is str  # stored as a plain string, not an enum member


def test_document_id_is_the_coordinates_so_a_replay_has_the_same_id():
    e = kafka_value(event())
    assert to_document(None, e, AT, NOW)[1]["_id"] == to_document(None, e, AT, NOW + timedelta(1))[1]["_id"]
    assert to_document(None, e, Coordinates("UserEvents", 2, 42), NOW)[1]["_id"] == "UserEvents:2:42"


def test_a_later_incarnation_of_the_topic_lands_beside_the_first_not_on_it():
    """The first incarnation the store saw keeps plain ids (as stored before incarnations
    were told apart); a topic created anew names its topic id, so the same coordinates
    make another document."""
    e = kafka_value(event())
    first = to_document(None, e, Coordinates("UserEvents", 2, 41, TOPIC_ID), NOW)[1]
    later = to_document(None, e, Coordinates("UserEvents", 2, 41, "7f3a", tagged=True), NOW)[1]
    assert first["_id"] == "UserEvents:2:41"
    assert later["_id"] == "UserEvents@7f3a:2:41"
    assert later["Kafka"]["TopicId"] == "7f3a"


@pytest.mark.parametrize(("value", "error"), [
    (b"not json", "Invalid JSON"),
    (b'{"UserId": "u-1"}', "SessionId\n  Field required"),
    (b"", "Invalid JSON"),
    (None, "tombstone"),
    (b'\xff\xfe', "Invalid JSON"),
])
def test_a_message_that_is_not_a_valid_event_becomes_a_dead_letter(value, error):
    valid, doc = to_document(b"k", value, AT, NOW)
    assert not valid
    assert error in doc["Error"]
    assert doc["_id"] == "UserEvents:2:41"
    assert doc["Kafka"] == {"Topic": "UserEvents", "TopicId": TOPIC_ID, "Partition": 2, "Offset": 41}
    assert doc["Key"] == Binary(b"k")
    assert doc["Value"] == (None if value is None else Binary(value))


def test_contract_breaks_are_named():
    bad = kafka_value(event()).replace(b'"AddedBasket"', b'"Bought"')
    with pytest.raises(ValueError, match="EventName"):
        parse_event(bad)
    with pytest.raises(ValueError, match="Discount must not exceed Price"):
        parse_event(kafka_value(event()).replace(b'"Discount":2.0', b'"Discount":25.0'))


def test_timestamp_without_offset_is_utc():
    e = parse_event(kafka_value(event()).replace(b"2026-11-28T10:00:00.987654Z",
                                                 b"2026-11-28T10:00:00.987654"))
    assert e.TimeStamp == datetime(2026, 11, 28, 10, 0, 0, 987654, tzinfo=timezone.utc)


def test_ranges_round_trip_through_json():
    ranges = {0: Span(5, 9), 2: Span(0, 0)}
    assert ranges_to_json(ranges) == {"0": [5, 9], "2": [0, 0]}
    assert ranges_from_json(ranges_to_json(ranges)) == ranges


def test_tally_groups_offsets_by_pair_and_partition():
    pairs = tally([(0, 5, "u-1", "PageVisited"), (1, 7, "u-1", "PageVisited"),
                   (0, 6, "u-1", "PageVisited"), (0, 8, "u-2", "PageVisited"),
                   (1, 9, "u-1", "AddedBasket")])
    assert {k: v.offsets for k, v in pairs.items()} == {
        "PageVisited:u-1": {0: [5, 6], 1: [7]},
        "PageVisited:u-2": {0: [8]},
        "AddedBasket:u-1": {1: [9]},
    }
    assert count_id("u:1", "PageVisited") == "PageVisited:u:1"


RANGES = {0: Span(5, 10), 1: Span(7, 12)}
PAIR = PairEvents("u-1", "PageVisited", {0: [5, 6, 9], 1: [7]})


def test_first_pass_adds_every_event_guarded_by_the_range_start():
    filter_, update = count_update(PAIR, counting_starts(RANGES, None), RANGES)
    assert filter_ == {"_id": "PageVisited:u-1", "$and": [
        {"$or": [{f"{COUNTED}.p0": {"$lte": 5}}, {f"{COUNTED}.p0": {"$exists": False}}]},
        {"$or": [{f"{COUNTED}.p1": {"$lte": 7}}, {f"{COUNTED}.p1": {"$exists": False}}]},
    ]}
    assert update == {"$inc": {"EventCount": 4},
                      "$max": {f"{COUNTED}.p0": 10, f"{COUNTED}.p1": 12},
                      "$setOnInsert": {"UserId": "u-1", "EventName": "PageVisited"}}


def test_a_document_that_counted_part_of_the_range_resumes_where_it_stopped():
    # A failed run counted partition 0 up to offset 7 (exclusive) for this pair.
    starts = counting_starts(RANGES, {"p0": 7})
    assert starts == {0: 7, 1: 7}
    filter_, update = count_update(PAIR, starts, RANGES)
    assert update["$inc"] == {"EventCount": 2}  # offset 9 on p0, offset 7 on p1
    assert filter_["$and"][0]["$or"][0] == {f"{COUNTED}.p0": {"$lte": 7}}


def test_a_document_that_counted_the_whole_range_gets_no_update():
    assert count_update(PAIR, counting_starts(RANGES, {"p0": 10, "p1": 12}), RANGES) is None
    # A mark beyond the range (offsets moved back) also counts nothing again.
    assert count_update(PAIR, counting_starts(RANGES, {"p0": 50, "p1": 50}), RANGES) is None


def test_status_line_says_the_last_run_its_age_and_events_landed():
    from apps.user_events.status import run_line

    now = datetime(2026, 11, 28, 23, 10, tzinfo=UTC)
    run = {"state": "success", "end_date": "2026-11-28T23:08:30+00:00"}
    assert run_line(run, {"inserted": 512}, now) == "last run success 90 s ago, 512 events landed"
    assert run_line({"state": "running", "start_date": "2026-11-28T22:00:00Z"}, None, now) \
        == "last run running 70 min ago"
    assert run_line(None, None, now) == "no DAG run yet"


def test_failure_message_names_dag_task_run_error_and_log_url():
    from apps.user_events.alerting import failure_message

    message = failure_message("user_events_to_mongo", "land", "manual__1",
                              TimeoutError("no record"), "http://127.0.0.1:8080/dags/x")
    assert message == {
        "text": "shopstream: task land of DAG user_events_to_mongo failed in run manual__1: "
                "no record",
        "dag": "user_events_to_mongo", "task": "land", "run": "manual__1",
        "error": "TimeoutError: no record", "log_url": "http://127.0.0.1:8080/dags/x",
    }
