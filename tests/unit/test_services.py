from collections import Counter

from apps.profiles import profile
from apps.stack.services import ALL, EVERY, kafka, services_of


def test_service_and_program_names_are_unique(settings):
    assert len({s.name for s in ALL}) == len(ALL)
    programs = Counter(p.name for s in ALL for p in s.programs(settings))
    assert [name for name, n in programs.items() if n > 1] == []


def test_ports_follow_design_and_never_collide(settings):
    ports = Counter(port for s in ALL for port in s.ports(settings))
    assert [port for port, n in ports.items() if n > 1] == []
    by_service = {s.name: s.ports(settings) for s in ALL}
    assert by_service["api"] == [8000]
    assert by_service["kafka"][0] == 9092
    assert by_service["mongo"] == [27017]
    assert by_service["s3"][0] == 9000
    assert by_service["postgres"] == [5432]
    assert by_service["airflow"] == [8080]
    # SeaweedFS's defaults would take Airflow's and Jupyter's ports.
    assert not {8080, 8888} & set(by_service["s3"])


def test_every_service_starts_after_what_it_needs():
    started = []
    for service in EVERY:
        assert set(service.needs) <= set(started), service.name
        started.append(service.name)
    default, cluster = (services_of(profile(name)) for name in ("default", "cluster"))
    assert [s.name for s in cluster] == [s.name for s in EVERY]
    assert [s.name for s in default] == [s.name for s in EVERY if s.name != "spark"]


def test_servers_have_containers_and_host_processes_do_not():
    for service in ALL:
        assert bool(service.compose_services) != service.host_process, service.name


def test_describing_programs_writes_no_file(settings):
    """`invoke status` and the tests compute specs: that must not touch the running stack."""
    from apps.stack.paths import RUN_DIR

    def snapshot():
        return {p: p.read_bytes() for p in RUN_DIR.rglob("*") if p.is_file()}

    before = snapshot()
    programs = [p for s in ALL for p in s.programs(settings)]
    assert snapshot() == before
    assert {f.path.name for p in programs for f in p.files} == {
        *(f"server-{n.node_id}.properties" for n in kafka.nodes(settings)),
        "s3.json", "passwords.json", "spark-connect.properties"}


def test_the_supervisord_config_follows_settings_not_the_callers_shell(settings, monkeypatch):
    """Two shells with different PATHs render the same config; a changed `.env` value
    changes exactly the sections of the programs that read `.env`."""
    from apps.stack.runtime import Runtime
    from apps.stack.supervisor import Supervisor, render_conf

    runtime = Runtime("native", Supervisor())
    conf = render_conf(runtime.host_programs(list(ALL), settings))
    monkeypatch.setenv("PATH", "/opt/elsewhere/bin:/bin:/usr/bin")
    assert render_conf(runtime.host_programs(list(ALL), settings)) == conf

    changed = settings.model_copy(update={"alert_webhook_url": "http://127.0.0.1:9/alert"})
    before = {p.name: p for p in runtime.host_programs(list(ALL), settings)}
    after = {p.name: p for p in runtime.host_programs(list(ALL), changed)}
    restarted = sorted(name for name in before if before[name] != after[name])
    assert restarted == ["api", "generator", "purchase-stream", "purchase-stream-alert", "watchdog"]


def test_a_cluster_id_never_begins_with_a_dash():
    from apps.stack.services.kafka import cluster_id, new_cluster_id

    draws = iter([b"\xf8" + bytes(15), b"\x01" * 16])  # "-AAAA...", then a plain one
    assert cluster_id(b"\xf8" + bytes(15)).startswith("-")
    assert new_cluster_id(lambda: next(draws)) == cluster_id(b"\x01" * 16)
    assert all(not new_cluster_id().startswith("-") for _ in range(2000))
