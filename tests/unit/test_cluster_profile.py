"""The cluster profile's parts, computed from settings (no server started)."""

from apps import profiles
from apps.settings import Settings
from apps.spark_session import standalone_options
from apps.stack.services import kafka, spark_cluster
from apps.stack.templates import ConfigFile


def cluster_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=profiles.profile("cluster").settings
                               | {"kafka_controller_port": 9093})


def default_settings(settings: Settings) -> Settings:
    """The template's endpoints, whichever profile runs these tests."""
    return settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:9092",
                                       "kafka_controller_port": 9093, "spark_master": "local[2]"})


def parsed(config: ConfigFile) -> dict[str, str]:
    return kafka.properties(config.text)


def test_the_profile_is_the_environments_else_the_last_started(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "MARKER", tmp_path / "profile")
    monkeypatch.delenv(profiles.PROFILE_VARIABLE, raising=False)
    assert profiles.active().name == "default"
    (tmp_path / "profile").write_text("cluster\n")
    assert profiles.active().name == "cluster"
    monkeypatch.setenv(profiles.PROFILE_VARIABLE, "default")
    assert profiles.active().name == "default"
    monkeypatch.setenv(profiles.PROFILE_VARIABLE, "clustre")
    try:
        profiles.active()
        raise AssertionError("an unknown profile was accepted")
    except profiles.UnknownProfile as exc:
        assert str(exc) == "unknown profile 'clustre': one of default, cluster"


def test_a_profiles_endpoints_yield_to_the_environment():
    cluster = profiles.profile("cluster")
    assert profiles.settings_overrides(cluster, {})["kafka_bootstrap_servers"] == \
        "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert "spark_master" not in profiles.settings_overrides(
        cluster, {"SPARK_MASTER": "spark://elsewhere:7077"})
    assert profiles.settings_overrides(profiles.profile("default"), {}) == {}
    assert cluster.state_dir == profiles.REPO_ROOT / ".stack" / "cluster"


def test_three_kafka_nodes_form_one_quorum_with_replicated_topics(settings):
    cluster = cluster_settings(settings)
    programs = kafka.programs(cluster)
    assert [p.name for p in programs] == ["kafka", "kafka-2", "kafka-3"]
    assert kafka.SERVICE.ports(cluster) == [9092, 9093, 9094, 9095, 9096, 9097]
    configs = [parsed(p.files[0]) for p in programs]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"}
    assert configs[2]["listeners"] == "PLAINTEXT://127.0.0.1:9096,CONTROLLER://127.0.0.1:9097"
    assert len({c["log.dirs"] for c in configs}) == 3
    for config in configs:
        assert config["offsets.topic.replication.factor"] == "3"
        assert config["min.insync.replicas"] == "2"
        # fenced within 4 s of its last heartbeat: well inside the API's 10 s ack timeout
        assert int(config["broker.session.timeout.ms"]) < settings.api_kafka_ack_timeout * 1000 / 2
    assert (kafka.replicas(cluster), kafka.min_insync(cluster)) == (3, 2)


def test_the_default_profile_keeps_one_broker_with_kafkas_own_timeouts(settings):
    settings = default_settings(settings)
    [program] = kafka.programs(settings)
    config = parsed(program.files[0])
    assert program.name == "kafka" and config["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert (config["offsets.topic.replication.factor"], config["min.insync.replicas"]) == ("1", "1")
    assert config["broker.session.timeout.ms"] == "9000"
    assert (kafka.replicas(settings), kafka.min_insync(settings)) == (1, 1)


def test_the_spark_cluster_listens_on_loopback_off_airflows_port(settings):
    cluster = cluster_settings(settings)
    master, worker = spark_cluster.programs(cluster)
    assert master.argv[1:] == ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", "7077", "--webui-port", "8090"]
    assert worker.argv[-1] == "spark://127.0.0.1:7077" and "--cores" in worker.argv
    assert {p.env["SPARK_LOCAL_IP"] for p in (master, worker)} == {"127.0.0.1"}
    assert 8080 not in spark_cluster.SERVICE.ports(cluster)
    assert spark_cluster.alive_workers({"workers": [{"state": "ALIVE"}, {"state": "DEAD"}]}) == 1
    try:
        spark_cluster.master_address(default_settings(settings))
        raise AssertionError("local mode taken for a master")
    except ValueError as exc:
        assert "SPARK_MASTER is not a standalone master: 'local[2]'" in str(exc)


def test_applications_on_a_standalone_master_are_held_to_their_cores(settings):
    assert standalone_options(default_settings(settings)) == {}
    options = standalone_options(cluster_settings(settings))
    assert options["spark.cores.max"] == "1"
    assert spark_cluster.WORKER_CORES >= 2 * int(options["spark.cores.max"])
