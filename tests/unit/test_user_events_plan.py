"""What a run takes on (cap, losses, incarnations) and how it reports it: pure code."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.losses import (
    RECREATED, RETENTION, LostRange, alert_message, loss_document, lost_with_old_incarnation,
)
from apps.user_events.counts import (
    COUNTED, PairEvents, RunRange, Span, bound, count_update, counting_starts, records_in,
)
from apps.user_events.plan import plan_run
from apps.user_events.status import progress_line

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_a_cap_is_shared_fairly_and_what_a_short_partition_leaves_goes_to_the_others():
    ranges = {0: Span(100, 1100), 1: Span(0, 50), 2: Span(7, 7), 3: Span(0, 5000)}
    taken = bound(ranges, 1000)
    assert records_in(taken) == 1000
    assert taken[1] == Span(0, 50) and taken[2] == Span(7, 7)
    assert taken[0] == Span(100, 575) and taken[3] == Span(0, 475)
    assert all(taken[p].start == ranges[p].start for p in ranges)
    assert bound(ranges, 10**9) == ranges
    with pytest.raises(ValueError, match="at least 1 record"):
        bound(ranges, 0)


def test_a_backlog_drains_in_runs_of_at_most_the_cap_and_misses_nothing():
    ends = {0: 2345, 1: 17, 2: 999}
    committed: dict[int, int] = {}
    runs = 0
    while True:
        plan = plan_run("T", "id", committed, {0: 0, 1: 0, 2: 0}, ends, cap=700)
        if not records_in(plan.ranges):
            break
        assert records_in(plan.ranges) <= 700
        assert all(plan.ranges[p].start == committed.get(p, 0) for p in ends)
        committed = {p: s.end for p, s in plan.ranges.items()}
        runs += 1
    assert committed == ends and runs == 5  # 3,361 records, 700 a run


def test_offsets_deleted_before_they_were_read_are_a_loss_with_their_exact_ranges():
    plan = plan_run("UserEvents", "id-1", committed={0: 10, 1: 500, 2: 40},
                    log_starts={0: 250, 1: 0, 2: 40}, ends={0: 300, 1: 600, 2: 90}, cap=10**6)
    assert plan.lost == [LostRange("user_events", "UserEvents", "id-1", 0, 10, 250, RETENTION)]
    assert plan.ranges == {0: Span(250, 300), 1: Span(500, 600), 2: Span(40, 90)}
    assert plan.waiting == 0
    # A group with no commit (new, or a new incarnation) starts at the log start: no loss.
    assert plan_run("T", "x", {}, {0: 250}, {0: 300}, 10).lost == []
    assert plan_run("T", "x", {}, {0: 250}, {0: 300}, 10).waiting == 40


def test_a_recreated_topic_loses_at_least_what_no_run_had_read():
    lost = lost_with_old_incarnation("user_events", "UserEvents", "old",
                                     read_up_to={0: 80, 1: 60}, last_ends={0: 100, 1: 60, 2: 5})
    assert [(x.partition, x.first, x.end, x.at_least, x.reason) for x in lost] == [
        (0, 80, 100, True, RECREATED), (2, 0, 5, True, RECREATED)]
    assert lost[0].describe() == ("at least 20 records of UserEvents partition 0 "
                                  "(offsets 80-99) " + RECREATED)


def test_a_loss_is_one_document_whose_id_is_its_range_and_one_alert():
    loss = LostRange("user_events", "UserEvents", "id-1", 2, 1500, 1750, RETENTION)
    doc = loss_document(loss, NOW)
    assert doc["_id"] == "user_events/UserEvents@id-1:2:1500-1750"
    assert (doc["Records"], doc["AcknowledgedAt"], doc["AtLeast"]) == (250, None, False)
    message = alert_message(loss)
    assert message["records"] == 250 and message["first_offset"] == 1500
    assert "250 records of UserEvents partition 2 (offsets 1500-1749)" in message["text"]
    assert "`invoke losses --ack`" in message["text"]


def test_a_later_incarnation_counts_under_marks_of_its_own():
    run = RunRange({0: Span(0, 10)}, "7f3a", tagged=True)
    pair = PairEvents("u-1", "PageVisited", {0: [3, 4]})
    # The first incarnation counted up to 500 on partition 0: no guard for the new one.
    starts = counting_starts(run.ranges, {"p0": 500}, run.mark_prefix)
    filter_, update = count_update(pair, starts, run.ranges, run.mark_prefix)
    assert update["$inc"] == {"EventCount": 2}
    assert update["$max"] == {f"{COUNTED}.7f3a-p0": 10}
    assert RunRange.from_json(run.to_json()) == run
    assert RunRange({0: Span(0, 1)}, "abc", tagged=False).mark_prefix == ""


def test_status_says_the_lag_the_last_run_left_and_open_losses():
    progress = {"LandedAt": NOW - timedelta(seconds=30), "WaitingRecords": 12000,
                "WaitingSince": NOW - timedelta(minutes=50)}
    assert progress_line(progress, [], NOW) == "lag 12,000 records, the oldest from 50 min ago"
    quiet = {"LandedAt": NOW - timedelta(seconds=30), "WaitingRecords": 0}
    open_ = [{"Records": 250}, {"Records": 5}]
    assert progress_line(quiet, open_, NOW) == (
        "no lag at the last run (30 s ago); 255 records LOST in 2 ranges (`invoke losses`)")
    assert progress_line(None, [], NOW) == "no run recorded yet"
