"""The Compose file cannot run here (no Docker engine): check it against the contract."""

import yaml

from apps.stack.runtime import COMPOSE_FILE
from apps.stack.services import ALL

COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]


def test_every_server_spec_names_containers_that_exist():
    for service in ALL:
        for name in service.compose_services:
            assert name in SERVICES, f"{service.name} -> {name}"


def test_every_long_running_container_has_a_health_check_or_a_healthy_sibling():
    long_running = {n for n, s in SERVICES.items() if s.get("restart") != "no"}
    checked = {n for n in long_running if "healthcheck" in SERVICES[n]}
    assert {"kafka", "mongo", "minio", "postgres", "airflow-api-server"} <= checked


def test_data_lives_in_named_volumes():
    named = set(COMPOSE["volumes"])
    assert {"kafka-data", "mongo-data", "minio-data", "postgres-data"} <= named
    for name in ("kafka", "mongo", "minio", "postgres"):
        sources = {v.split(":")[0] for v in SERVICES[name]["volumes"]}
        assert sources <= named, name


def test_kafka_is_kraft_without_zookeeper():
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert not any("zookeeper" in n for n in SERVICES)
    assert not any("ZOOKEEPER" in k for k in env)


def test_ports_match_the_contract(settings):
    ports = {s.name: s.ports(settings) for s in ALL}
    text = COMPOSE_FILE.read_text()
    kafka_env = SERVICES["kafka"]["environment"]
    assert f"PLAINTEXT://127.0.0.1:{ports['kafka'][0]}" in kafka_env["KAFKA_LISTENERS"]
    assert SERVICES["mongo"]["command"][-1] == str(ports["mongo"][0])
    assert f"127.0.0.1:{ports['s3'][0]}" in SERVICES["minio"]["command"]
    assert "127.0.0.1:9001" in SERVICES["minio"]["command"]
    assert f"port={ports['postgres'][0]}" in SERVICES["postgres"]["command"]
    assert f'AIRFLOW__API__PORT: "{ports["airflow"][0]}"' in text
    # Natively, tests/integration/test_loopback.py reads the real sockets; containers
    # cannot run here, so their loopback binding is checked in what they are told.


def test_secrets_come_from_env():
    minio = SERVICES["minio"]["environment"]
    assert minio == {"MINIO_ROOT_USER": "${S3_ACCESS_KEY}", "MINIO_ROOT_PASSWORD": "${S3_SECRET_KEY}"}
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_SUPERUSER_PASSWORD}"
