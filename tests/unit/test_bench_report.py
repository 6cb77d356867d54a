"""The benchmarks' common figures and report, and the DAG benchmark's equal histories."""

import json

import pytest

from apps.bench.dag import covering_tail
from apps.bench.report import Figure, markdown, write
from apps.generator.traffic import TrafficBuilder

MACHINE = {"at": "2026-11-29T01:00:00+00:00", "cpu_count": 2, "cpu_model": "cpu",
           "memory_gib": 8.0, "memory_available_gib": 4.0, "python": "3.11.7", "os": "Linux",
           "load_average": [1.0, 2.0, 3.0]}


def test_the_ratio_is_value_over_reference_and_the_goal_bounds_it():
    figure = Figure("x", "records/s", 600.0, "records/s", "noop records/s", 1000.0, ">= 0.6")
    assert figure.ratio == pytest.approx(0.6)
    assert figure.met is True
    assert Figure("x", "p95", 25.0, "s", "trigger s", 10.0, "<= 2").met is False


def test_without_a_reference_the_goal_bounds_the_value_and_no_goal_is_no_verdict():
    assert Figure("x", "run s", 30.0, "s", goal="< 60").met is True
    assert Figure("x", "memory", 900.0, "MiB").met is None
    assert Figure("x", "memory", 900.0, "MiB").ratio is None


def test_a_goal_that_is_not_a_bound_is_named():
    with pytest.raises(ValueError, match="'about 2'"):
        _ = Figure("x", "p95", 1.0, "s", goal="about 2").met


def test_the_report_holds_every_figure_its_ratio_and_the_machine(tmp_path):
    figures = [Figure("stream", "p95", 15.0, "s", "trigger s", 10.0, "<= 2")]
    as_json, as_md = write(figures, MACHINE, {**MACHINE, "load_average": [4.0, 5.0, 6.0]},
                           {"dag": "TimeoutError: slow"}, tmp_path)
    data = json.loads(as_json.read_text())
    assert data["figures"] == [{"benchmark": "stream", "name": "p95", "value": 15.0, "unit": "s",
                                "reference_name": "trigger s", "reference_value": 10.0,
                                "goal": "<= 2", "ratio": 1.5, "met": True}]
    assert data["machine"]["end"]["load_average"] == [4.0, 5.0, 6.0]
    assert "| stream | p95 | 15.00 s | trigger s | 10.00 | 1.50 | <= 2 met |" in as_md.read_text()
    assert "- dag: TimeoutError: slow" in as_md.read_text()
    assert "at the start [1.0, 2.0, 3.0], at the end [4.0, 5.0, 6.0]" in as_md.read_text()


def test_a_report_of_another_name(tmp_path):
    as_json, as_md = write([], MACHINE, MACHINE, {}, tmp_path, name="soak")
    assert (as_json.name, as_md.name) == ("soak-2026-11-29T010000Z.json", "soak-2026-11-29T010000Z.md")


def test_markdown_escapes_a_pipe_in_a_name():
    text = markdown([Figure("x", "a|b", 1.0, "s")], MACHINE, MACHINE, {})
    assert "a\\|b" in text


def pairs(events):
    return {(e.UserId, e.EventName) for e in events}


def test_the_last_events_are_rewritten_to_hold_every_pair_of_the_whole():
    builder = TrafficBuilder(seed=5, users=40, products=10)
    events = []
    while len(events) < 2000:
        events += builder.batch(20).events
    events = events[:2000]
    assert pairs(events[-200:]) != pairs(events)  # the draw alone would not do it
    rewritten = covering_tail(events, 200)
    assert len(rewritten) == 2000 and rewritten[:1800] == events[:1800]
    assert pairs(rewritten[-200:]) == pairs(rewritten) == pairs(events)


def test_a_tail_too_short_for_the_pairs_is_refused():
    events = TrafficBuilder(seed=5, users=40, products=10).batch(20).events
    with pytest.raises(ValueError, match="do not fit in the last 2 events"):
        covering_tail(events, 2)
