"""The Compose file cannot run here (no Docker engine): check it against the contract."""

import re

import pytest
import yaml
from pydantic import SecretStr

from apps.stack.envfile import TEMPLATE
from apps.stack.paths import PROFILE
from apps.stack.runtime import COMPOSE_ENV_DIR, COMPOSE_FILE, compose_env_files, compose_ports
from apps.stack.services import ALL
from apps.stack.services import airflow as airflow_spec
from apps.stack.services import kafka as kafka_spec

# The Docker runtime runs the default profile only (apps/stack/up.py, check_profile).
pytestmark = pytest.mark.skipif(not PROFILE.is_default,
                                reason=f"the {PROFILE.name} profile is active")
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


def test_kafka_is_kraft_without_zookeeper(settings):
    env = kafka_spec.container_environment(settings)
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
    kafka_env = kafka_spec.container_environment(settings)
    assert f"PLAINTEXT://127.0.0.1:{ports['kafka'][0]}" in kafka_env["KAFKA_LISTENERS"]
    assert kafka_env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{kafka}"
    assert services["mongo"]["command"][-1] == str(ports["mongo"][0])
    assert f"127.0.0.1:{ports['s3'][0]}" in services["minio"]["command"]
    assert f"127.0.0.1:{settings.s3_console_port}" in services["minio"]["command"]
    assert services["postgres"]["command"][4] == f"port={postgres}"
    airflow_env = airflow_spec.container_environment(settings)
    assert airflow_env["AIRFLOW__API__PORT"] == str(ports["airflow"][0])
    assert f"@127.0.0.1:{postgres}/airflow" in airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
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


def test_each_container_environment_is_an_env_file_its_containers_read(settings):
    written = {f.path.name: f for f in compose_env_files(settings)}
    assert set(written) == {"kafka.env", "airflow.env"}
    for service in (s for s in ALL if s.compose_environment):
        for name in service.compose_services:
            files = SERVICES[name]["env_file"]
            files = [files] if isinstance(files, str) else files
            paths = {(COMPOSE_FILE.parent / f).resolve() for f in files}
            assert (COMPOSE_ENV_DIR / f"{service.name}.env").resolve() in paths, name
    lines = written["kafka.env"].text.splitlines()
    assert f"KAFKA_LOG_DIRS='{kafka_spec.CONTAINER_DATA}'" in lines


def test_the_kafka_container_gets_every_property_of_the_native_broker(settings):
    assert kafka_spec.property_variable("log.dirs") == "KAFKA_LOG_DIRS"
    assert kafka_spec.property_variable("abc_def") == "KAFKA_ABC__DEF"
    assert kafka_spec.property_variable("abc-def") == "KAFKA_ABC___DEF"
    native = kafka_spec.properties(kafka_spec.programs(settings)[0].files[0].text)
    container = kafka_spec.container_environment(settings)
    assert len(native) > 15
    assert {kafka_spec.property_variable(k): v for k, v in native.items()
            if k != "log.dirs"} == {k: v for k, v in container.items() if k != "KAFKA_LOG_DIRS"}


def test_airflow_containers_run_the_host_programs_configuration(settings):
    host = airflow_spec.environment(settings)
    container = airflow_spec.container_environment(settings)
    paths = {"AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
             "AIRFLOW__LOGGING__BASE_LOG_FOLDER"}
    shared = {k: v for k, v in host.items() if k.startswith("AIRFLOW__") and k not in paths}
    assert len(shared) > 10
    assert {k: container[k] for k in shared} == shared
    for program in airflow_spec.programs(settings):  # same components, same arguments
        assert SERVICES[program.name]["command"] == ["airflow", *program.argv[1:]]
