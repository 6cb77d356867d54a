"""The status report's pure parts: readings -> stages, the staleness rules, the watchdog's
streaks, the probes' deadline, the watchdog's program spec."""

import time
from datetime import UTC, datetime, timedelta

from apps.lake.figures import LakeFigures
from apps.pipeline_status import rules, stages
from apps.pipeline_status.readings import Reading, read_all
from apps.pipeline_status.schema import DOWN, FAILING, HEALTHY, SKIPPED, STALE, STAGES, UNKNOWN
from apps.pipeline_status.watchdog import Streaks, conditions
from apps.stack.status import ServiceStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
METRICS = """# HELP shopstream_api_requests_total Ingestion requests answered
# TYPE shopstream_api_requests_total counter
shopstream_api_requests_total{endpoint="/SendEvent",status="202"} 900.0
shopstream_api_requests_total{endpoint="/PurchasedItems",status="202"} 100.0
shopstream_api_requests_total{endpoint="/SendEvent",status="422"} 3.0
shopstream_api_records_accepted_total{topic="UserEvents"} 900.0
shopstream_api_records_accepted_total{topic="PurchasedItem"} 150.0
"""


def service(name, healthy=True, reason="", skipped=False):
    return ServiceStatus(name, "-", healthy, reason, {}, "", "-", 0.0, skipped=skipped)


SERVICES = [service(n) for n in ("generator", "api", "kafka", "airflow", "mongo", "stream",
                                 "s3", "postgres")]


def readings(**changes):
    """A healthy pipeline's readings: the DAG committed a minute ago, the stream's last
    batch 5 s ago; `changes` replace some."""
    base = {
        "api": METRICS,
        "kafka": {"ends": {"UserEvents": {0: 1000, 1: 1000, 2: 1000},
                           "PurchasedItem": {0: 100, 1: 100, 2: 100}},
                  "committed": {0: 990, 1: 1000, 2: 1000}},
        "airflow": {"dag": {"is_paused": False, "next_dagrun_run_after": "2026-12-02T12:02:00Z"},
                    "last_run": {"state": "success", "end_date": "2026-12-02T11:59:00Z"}},
        "mongo": {"progress": {"CommittedAt": NOW - timedelta(minutes=1),
                               "LandedAt": NOW - timedelta(minutes=1), "WaitingRecords": 0,
                               "Landed": {"ranges": {"0": [900, 990]}, "topic_id": "t",
                                          "tagged": False}},
                  "open_losses": []},
        "stream": {"batch_id": 7, "timestamp": "2026-12-02T11:59:55.000Z", "input_rows": 50,
                   "input_rows_per_second": 5.0, "processed_rows_per_second": 30.0,
                   "end_offsets": {"PurchasedItem": {"0": 100, "1": 98, "2": 100}}},
        "lake_stream": {"raw": LakeFigures("raw", 12, 40, 4096, "2026-12-02",
                                           NOW - timedelta(seconds=5), "stream")},
        "lake_maintenance": {"raw": None, "quarantine": None},
        "analysis": None,
        "generator": None,
    }
    base.update(changes)
    return {k: v if isinstance(v, Reading) else Reading(v) for k, v in base.items()}


def build(services=SERVICES, **changes):
    return {s.stage: s for s in stages.build(readings(**changes), services, NOW)}


def test_every_stage_is_reported_in_the_flows_order_healthy_with_its_figures():
    built = stages.build(readings(), SERVICES, NOW)
    assert tuple(s.stage for s in built) == STAGES
    by = {s.stage: s for s in built}
    assert all(s.health == HEALTHY for s in built), [(s.stage, s.reason) for s in built]
    assert by["api"].figures["requests_by_status"].value == {"202": 1000, "422": 3}
    assert by["api"].figures["records_accepted"].value == {"UserEvents": 900, "PurchasedItem": 150}
    assert by["kafka"].figures["records"].value == {"UserEvents": 3000, "PurchasedItem": 300}
    assert by["user_events_dag"].figures["lag_records"].value == 10
    assert by["mongo"].figures["last_landed_records"].value == 90
    stream = by["stream"]
    assert stream.figures["behind_records"].value == 2
    assert stream.figures["last_batch_id"].to_json(NOW) == {
        "value": 7, "at": "2026-12-02T11:59:55+00:00", "age_seconds": 5.0}
    assert by["lake"].figures["raw_files"].value == 40
    assert by["losses"].summary == "no open loss"


def test_a_dag_that_did_not_commit_for_three_schedules_while_records_wait_is_stale():
    old = {**readings()["mongo"].value}
    old["progress"] = {**old["progress"], "CommittedAt": NOW - timedelta(minutes=7)}
    dag = build(mongo=old)["user_events_dag"]
    assert dag.health == STALE
    assert dag.reason == "last commit 420 s ago (> 3 schedules) while 10 records wait"
    quiet = readings()["kafka"].value | {"committed": {0: 1000, 1: 1000, 2: 1000}}
    assert build(mongo=old, kafka=quiet)["user_events_dag"].health == HEALTHY  # nothing waits


def test_a_paused_dag_says_so_and_a_failed_run_is_failing():
    old = {**readings()["mongo"].value}
    old["progress"] = {**old["progress"], "CommittedAt": NOW - timedelta(hours=1)}
    paused = {"dag": {"is_paused": True}, "last_run": None}
    dag = build(mongo=old, airflow=paused)["user_events_dag"]
    assert dag.health == STALE and dag.reason.endswith("; the DAG is paused")
    failed = {"dag": {"is_paused": False}, "last_run": {"state": "failed"}}
    assert build(airflow=failed)["user_events_dag"].health == FAILING


def test_a_stream_without_a_batch_for_three_triggers_while_records_wait_is_stale():
    batch = readings()["stream"].value | {"timestamp": "2026-12-02T11:59:25Z"}
    stream = build(stream=batch)["stream"]
    assert stream.health == STALE
    assert stream.reason == "last batch 35 s ago (> 3 triggers) while 2 records wait"
    assert stream.figures["behind_seconds"].value == 35.0


def test_a_down_service_downs_its_stage_and_a_skipped_one_is_skipped():
    services = [service("stream", False, "purchase-stream is FATAL")] + [
        s for s in SERVICES if s.service not in ("stream", "generator")] + [
        service("generator", False, "generator is STOPPED", skipped=True)]
    by = build(services)
    assert (by["stream"].health, by["stream"].reason) == (DOWN, "purchase-stream is FATAL")
    assert by["generator"].health == SKIPPED


def test_a_reading_that_failed_makes_its_stage_unknown_with_the_reason():
    by = build(kafka=Reading(error="no answer within 1.2 s"))
    assert by["kafka"].health == UNKNOWN
    assert by["kafka"].reason == "could not read kafka: no answer within 1.2 s"
    assert by["user_events_dag"].figures["lag_records"].value is None


def test_open_losses_make_the_losses_stage_failing():
    records = readings()["mongo"].value | {"open_losses": [{"Records": 250}, {"Records": 5}]}
    losses = build(mongo=records)["losses"]
    assert losses.health == FAILING
    assert losses.reason == "255 records LOST in 2 ranges (`invoke losses`)"


def test_metrics_text_is_parsed_by_name_and_labels():
    parsed = stages.parse_metrics(METRICS)
    assert parsed["shopstream_api_requests_total"][2] == (
        {"endpoint": "/SendEvent", "status": "422"}, 3.0)


def test_disk_nearly_full():
    assert rules.disk_full(0.5, rules.Thresholds()) is None
    assert rules.disk_full(0.93, rules.Thresholds()) == \
        "the disk holding .stack/ is 93% full (alert from 90%)"


def test_a_streak_alerts_once_and_again_only_after_it_cleared():
    streaks = Streaks(unhealthy_checks=3)
    stale = {"stale:stream": "stream is stale"}
    assert streaks.update(stale) == stale
    assert streaks.update(stale) == {}
    assert streaks.update({}) == {}
    assert streaks.update(stale) == stale


def test_a_service_alerts_only_once_it_stayed_unhealthy():
    streaks = Streaks(unhealthy_checks=3)
    down = {"unhealthy:kafka": "kafka is unhealthy"}
    assert [streaks.update(down) for _ in range(4)] == [{}, {}, down, {}]
    assert streaks.update({}) == {} and streaks.update(down) == {}  # a blip restarts the count


def test_watchdog_conditions_come_from_the_report():
    from apps.pipeline_status.schema import Report

    old = {**readings()["mongo"].value}
    old["progress"] = {**old["progress"], "CommittedAt": NOW - timedelta(hours=1)}
    built = stages.build(readings(mongo=old), SERVICES, NOW)
    services = SERVICES + [service("watchdog", False, "watchdog is STOPPED", skipped=True)]
    report = Report(NOW, "native", built, services, {"used_fraction": 0.95})
    assert set(conditions(report, rules.Thresholds())) == {"stale:user_events_dag", "disk"}


def test_probes_run_at_once_and_a_late_one_is_reported_not_waited_for():
    started = time.monotonic()
    found = read_all({"quick": lambda: 1, "slow": lambda: time.sleep(5),
                      "broken": lambda: 1 / 0}, deadline_s=0.5)
    assert time.monotonic() - started < 1.5
    assert found["quick"] == Reading(1)
    assert found["slow"].error == "no answer within 0.5 s"
    assert found["broken"].error.startswith("ZeroDivisionError")


def test_the_watchdog_is_a_supervised_program_that_reads_env(settings):
    import sys

    from apps.stack.services import ALL, watchdog
    from apps.stack.supervisor import program_section

    assert ALL[-1] is watchdog.SERVICE and watchdog.SERVICE.reads_env_file
    [program] = watchdog.SERVICE.programs(settings)
    assert program.argv == [sys.executable, "-m", "apps.pipeline_status.watchdog"]
    section = program_section(program)
    assert "[program:watchdog]" in section and "autorestart=true" in section


def test_the_generator_records_its_totals_and_rates_and_status_shows_them():
    from apps.generator.run import progress_record
    from apps.generator.sender import Stats

    record = progress_record(Stats(sent=150, accepted=140, failed=2),
                             Stats(sent=100, accepted=100), 5.0, NOW - timedelta(seconds=3))
    assert (record["sent_records_per_second"], record["accepted_records_per_second"]) == (10, 8)
    generator = build(generator=record)["generator"]
    assert generator.summary == "10.0 records/s sent, 2 failed (3 s ago)"
    assert generator.figures["accepted"].to_json(NOW)["age_seconds"] == 3.0
