"""Apache Kafka in KRaft mode, run from its Maven Central artifacts."""

from __future__ import annotations

import base64
import uuid

from apps.settings import Settings, host_port
from apps.stack import probes
from apps.stack.artifacts import MavenJars
from apps.stack.paths import CONFIG_DIR, data_dir
from apps.stack.spec import Health, Program, Service
from apps.stack.templates import render
from apps.stack.tools import run_tool

KAFKA_VERSION = "4.1.1"
JARS = MavenJars(
    "kafka",
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3",  # the broker's slf4j binding
    ),
)
DATA = data_dir("kafka")
CONTAINER_DATA = "/var/lib/kafka/data"  # the kafka-data volume in compose/docker-compose.yml


def _server_properties(settings: Settings, data_dir: object = DATA):
    host, port = host_port(settings.kafka_servers[0])
    return render("kafka/server.properties", host=host, port=port,
                  controller_port=settings.kafka_controller_port, data_dir=data_dir)


def property_variable(name: str) -> str:
    """The apache/kafka image's environment variable for a server property:
    `log.dirs` -> KAFKA_LOG_DIRS, `a_b` -> KAFKA_A__B, `a-b` -> KAFKA_A___B."""
    return "KAFKA_" + name.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def properties(text: str) -> dict[str, str]:
    """`key=value` lines of a .properties file (no continuation lines in ours)."""
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith(("#", "!")))
    return {key.strip(): value.strip() for key, value in pairs}


def container_environment(settings: Settings) -> dict[str, str]:
    """config/kafka/server.properties, the broker's one configuration, as the container's
    environment, with the data in the container's volume."""
    text = _server_properties(settings, data_dir=CONTAINER_DATA).text
    return {property_variable(k): v for k, v in properties(text).items()}


def _java(main_class: str, *args: str, heap: str = "256m") -> list[str]:
    return [
        "java", f"-Xmx{heap}", "-Xss1m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={CONFIG_DIR / 'kafka' / 'log4j2.properties'}",
        "-cp", f"{JARS.path()}/*", main_class, *args,
    ]


def programs(settings: Settings) -> list[Program]:
    config = _server_properties(settings)
    return [Program("kafka", _java("kafka.Kafka", str(config.path), heap="768m"), files=(config,))]


def cluster_id(raw: bytes) -> str:
    """16 bytes in Kafka's URL-safe base64 form of a UUID."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def new_cluster_id(draw=lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id. Like Kafka's own `Uuid.randomUuid()`, it never begins with `-`
    (1 random id in 64 would): command-line tools read such an id as an option."""
    while (candidate := cluster_id(draw())).startswith("-"):
        pass
    return candidate


def format_command(config_path: str, cluster: str) -> list[str]:
    # `--cluster-id=<id>` in one word: an id is never taken for an option, whatever it is.
    return _java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster}",
                 "-c", config_path)


def prepare(settings: Settings) -> None:
    if (DATA / "meta.properties").exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    config = _server_properties(settings)
    config.write()
    run_tool(format_command(str(config.path), new_cluster_id()),
             what=f"formatting Kafka's storage in {DATA}")


def health(settings: Settings) -> Health:
    def check() -> str | None:
        # librdkafka: a light import, so `invoke status` stays quick
        from confluent_kafka.admin import AdminClient

        def describe() -> None:
            admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers,
                                 "log_level": 0})  # the reason says why; no log lines
            admin.list_topics(timeout=probes.TIMEOUT_MS / 1000)

        return probes.guarded(describe, "Kafka metadata request")

    return Health(f"Kafka answering metadata requests at {settings.kafka_bootstrap_servers}", check)


def bootstrap(settings: Settings) -> None:
    """Create the contract's topics, each with the contract's partition count."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from apps.contract.models import PURCHASES_TOPIC, TOPIC_PARTITIONS, USER_EVENTS_TOPIC

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        missing = {USER_EVENTS_TOPIC, PURCHASES_TOPIC} - set(admin.list_topics())
        if missing:
            admin.create_topics([NewTopic(t, TOPIC_PARTITIONS, 1) for t in sorted(missing)])
    finally:
        admin.close()


SERVICE = Service(
    name="kafka",
    description=f"Apache Kafka {KAFKA_VERSION} (KRaft)",
    url=lambda s: s.kafka_bootstrap_servers,
    ports=lambda s: [host_port(s.kafka_servers[0])[1], s.kafka_controller_port],
    programs=programs,
    health=health,
    provision=lambda s: JARS.provision(),
    is_provisioned=JARS.is_cached,
    prepare=prepare,
    bootstrap=bootstrap,
    credentials="none (loopback only)",
    compose_services=("kafka",),
    compose_environment=container_environment,
)
