"""The warm Spark's pure parts: its server's spec, and what a scheduled refresh computes."""

from datetime import UTC, datetime

from apps.analysis import analyses
from apps.analysis.refresh import Outcome, tables_to_compute
from apps.analysis.store import Refresh
from apps.stack.services import spark_connect

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LAKE = "s3a://purchases/raw/"


def last(version: int | None, url: str = LAKE) -> Refresh:
    return Refresh(NOW, NOW, url, version, 3, 100)


def test_an_unchanged_lake_refreshes_only_the_hourly_table():
    assert tables_to_compute(last(7), LAKE, 7) == ["top_customers_last_hour"]
    everything = list(analyses.RESULTS)
    assert tables_to_compute(last(7), LAKE, 8) == everything  # the lake moved on
    assert tables_to_compute(last(7, "s3a://other/raw/"), LAKE, 7) == everything
    assert tables_to_compute(None, LAKE, 7) == everything  # the first refresh
    assert tables_to_compute(last(None), LAKE, None) == everything  # no table yet


def test_a_refresh_says_what_it_skipped_and_why():
    skipped = Outcome(["top_customers_last_hour"], 7, 1234, 2.04, "spark-connect")
    assert skipped.describe() == (
        "refreshed top_customers_last_hour from version 7 of the lake (1,234 orders) in 2.0 s "
        "on spark-connect; skipped top_products, payment_types, repeat_purchases: the lake "
        "has not changed")
    assert "skipped" not in Outcome(list(analyses.RESULTS), 8, 1, 9.0, "local").describe()


def test_the_server_keeps_its_secrets_off_the_command_line(settings):
    [program] = spark_connect.programs(settings)
    secret = settings.s3_secret_key.get_secret_value()
    assert not any(secret in part for part in program.argv)
    assert program.argv[1:3] == ["--properties-file", str(spark_connect.PROPERTIES)]
    [properties] = program.files
    assert properties.path == spark_connect.PROPERTIES
    assert f"spark.hadoop.fs.s3a.secret.key {secret}\n" in properties.text
    assert program.env["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_the_server_listens_on_loopback_its_ui_off_the_streams(settings):
    values = spark_connect.properties(settings)
    assert values["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert values["spark.connect.grpc.binding.port"] == "15002"
    assert values["spark.ui.port"] == "4050"  # the streaming job's UI is on 4040
    assert spark_connect.SERVICE.ports(settings) == [15002, 4050]



def test_the_server_restarts_when_its_properties_change_and_only_then(settings):
    [program] = spark_connect.programs(settings)
    [other_alert] = spark_connect.programs(
        settings.model_copy(update={"alert_webhook_url": "http://127.0.0.1:9/alert"}))
    [new_port] = spark_connect.programs(settings.model_copy(update={"spark_connect_ui_port": 4051}))
    assert other_alert == program
    assert new_port.env != program.env


def test_the_streaming_job_stays_classic_whatever_the_environment(spark, spark_settings,
                                                                  monkeypatch):
    from apps.spark_session import spark_session

    monkeypatch.setenv("SPARK_REMOTE", "sc://127.0.0.1:15002")
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    session = spark_session(spark_settings, "shopstream-tests", master="local[1]",
                            with_connectors=False)
    assert session.sparkContext.master == "local[1]"  # a classic session: it has a context


def test_a_classic_session_keeps_the_s3_keys_off_its_jvms_command_line(spark, spark_settings):
    """PySpark passes the builder's settings to the JVM's command line (`ps` shows it): the
    keys are set in the running JVM's Hadoop configuration instead."""
    from apps.spark_session import spark_session

    settings = spark_settings
    spark = spark_session(settings, "shopstream-tests", master="local[1]",
                          with_connectors=False)  # the test run's session, keys set again
    conf = dict(spark.sparkContext.getConf().getAll())
    assert not [k for k in conf if k.endswith((".access.key", ".secret.key"))]
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("fs.s3a.secret.key") == settings.s3_secret_key.get_secret_value()
    assert hadoop.get("fs.s3a.access.key") == settings.s3_access_key


def test_the_servers_spec_is_described_before_the_connectors_are_provisioned(settings,
                                                                           monkeypatch):
    """`invoke status` on a fresh machine, or `invoke up --skip spark-connect,stream`."""
    from apps.stack.artifacts import MavenJars

    monkeypatch.setattr(MavenJars, "is_cached", lambda self: False)
    [program] = spark_connect.programs(settings)
    assert "spark.driver.extraClassPath \n" in program.files[0].text
