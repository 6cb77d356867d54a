"""The Compose file cannot run here (no Docker engine): check it against the contract."""

import re

import pytest
import yaml
from pydantic import SecretStr

from apps.stack.envfile import TEMPLATE
from apps.stack.runtime import COMPOSE_FILE, compose_ports
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


def compose_as_run(settings) -> dict:
    """The Compose file as `docker compose` sees it under `invoke up`: `${VAR}`s filled
    from the ports the runtime derives from `.env`."""
    ports = compose_ports(settings)
    text = re.sub(r"\$\{(\w+)\}", lambda m: ports.get(m.group(1), m.group(0)),
                  COMPOSE_FILE.read_text())
    return yaml.safe_load(text)


@pytest.mark.parametrize("kafka, postgres", [("127.0.0.1:9092", 5432), ("127.0.0.1:19092", 15432)])
def test_containers_listen_on_the_ports_of_env(settings, kafka, postgres):
    settings = settings.model_copy(update={
        "kafka_bootstrap_servers": kafka,
        "postgres_dsn": SecretStr(f"postgresql://u:p@127.0.0.1:{postgres}/shopstream")})
    ports = {s.name: s.ports(settings) for s in ALL}
    services = compose_as_run(settings)["services"]
    kafka_env = services["kafka"]["environment"]
    assert f"PLAINTEXT://127.0.0.1:{ports['kafka'][0]}" in kafka_env["KAFKA_LISTENERS"]
    assert kafka_env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{kafka}"
    assert services["mongo"]["command"][-1] == str(ports["mongo"][0])
    assert f"127.0.0.1:{ports['s3'][0]}" in services["minio"]["command"]
    assert f"127.0.0.1:{settings.s3_console_port}" in services["minio"]["command"]
    assert services["postgres"]["command"][4] == f"port={postgres}"
    airflow = services["airflow-api-server"]["environment"]
    assert airflow["AIRFLOW__API__PORT"] == str(ports["airflow"][0])
    assert f"@127.0.0.1:{postgres}/airflow" in airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # Natively, tests/integration/test_loopback.py reads the real sockets; containers
    # cannot run here, so their loopback binding is checked in what they are told.
    assert "0.0.0.0" not in COMPOSE_FILE.read_text()


def test_every_variable_of_the_compose_file_has_a_source(settings):
    """Each `${VAR}` is a port the runtime passes or a key of `.env`."""
    env_keys = {line.split("=", 1)[0] for line in TEMPLATE.read_text().splitlines()
                if line and not line.startswith("#")}
    used = set(re.findall(r"\$\{(\w+)\}", COMPOSE_FILE.read_text()))
    assert used - env_keys - set(compose_ports(settings)) == set()


def test_secrets_come_from_env():
    minio = SERVICES["minio"]["environment"]
    assert minio == {"MINIO_ROOT_USER": "${S3_ACCESS_KEY}", "MINIO_ROOT_PASSWORD": "${S3_SECRET_KEY}"}
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_SUPERUSER_PASSWORD}"
