"""Apache Kafka in KRaft mode, run from its Maven Central artifacts."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

from apps.settings import Settings, host_port
from apps.stack import probes
from apps.stack.artifacts import MavenJars
from apps.stack.jvm import IDLE_HEAP
from apps.stack.paths import CONFIG_DIR, data_dir
from apps.stack.spec import Health, Program, Service
from apps.stack.templates import ConfigFile, render
from apps.stack.tools import run_tool

KAFKA_VERSION = "4.1.1"
JARS = MavenJars(
    "kafka",
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3",  # the broker's slf4j binding
    ),
)
CONTAINER_DATA = "/var/lib/kafka/data"  # the kafka-data volume in compose/docker-compose.yml
HEAP = "768m"
# A cluster: every topic on three brokers, a write acknowledged by two.
MAX_REPLICAS, CLUSTER_MIN_INSYNC = 3, 2


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller in one process) of KAFKA_BOOTSTRAP_SERVERS."""

    node_id: int
    host: str
    port: int
    controller_port: int

    @property
    def program(self) -> str:
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"

    @property
    def data(self) -> Path:
        return data_dir(self.program)


def nodes(settings: Settings) -> list[Node]:
    """A node per address of KAFKA_BOOTSTRAP_SERVERS (one by default, three in the cluster
    profile); node n's controller listens on KAFKA_CONTROLLER_PORT + 2(n - 1), so the
    cluster's ports pair up: 9092/9093, 9094/9095, 9096/9097."""
    return [Node(n, *host_port(address), settings.kafka_controller_port + 2 * (n - 1))
            for n, address in enumerate(settings.kafka_servers, start=1)]


def replicas(settings: Settings) -> int:
    return min(MAX_REPLICAS, len(settings.kafka_servers))


def min_insync(settings: Settings) -> int:
    return CLUSTER_MIN_INSYNC if replicas(settings) >= MAX_REPLICAS else 1


def _server_properties(settings: Settings, node: Node | None = None,
                       data_dir: object = None) -> ConfigFile:
    all_nodes = nodes(settings)
    node = node or all_nodes[0]
    cluster = len(all_nodes) > 1
    return render("kafka/server.properties", f"kafka/server-{node.node_id}.properties",
                  node_id=node.node_id, host=node.host, port=node.port,
                  controller_port=node.controller_port, data_dir=data_dir or node.data,
                  voters=",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in all_nodes),
                  replicas=replicas(settings), min_insync=min_insync(settings),
                  # Kafka's defaults on one node, where fencing would only hurt.
                  heartbeat_ms=1000 if cluster else 2000, session_ms=4000 if cluster else 9000)


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
        "java", f"-Xmx{heap}", *IDLE_HEAP, "-Xss1m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={CONFIG_DIR / 'kafka' / 'log4j2.properties'}",
        "-cp", f"{JARS.path()}/*", main_class, *args,
    ]


def programs(settings: Settings) -> list[Program]:
    configs = [(node, _server_properties(settings, node)) for node in nodes(settings)]
    return [Program(node.program, _java("kafka.Kafka", str(config.path), heap=HEAP),
                    files=(config,)) for node, config in configs]


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


def formatted_cluster_id(folder: Path) -> str | None:
    try:
        return properties((folder / "meta.properties").read_text()).get("cluster.id")
    except FileNotFoundError:
        return None


def prepare(settings: Settings) -> None:
    """Format each node's storage once, every node with the one cluster id."""
    all_nodes = nodes(settings)
    known = [i for i in map(formatted_cluster_id, (n.data for n in all_nodes)) if i]
    cluster = known[0] if known else new_cluster_id()
    for node in all_nodes:
        if formatted_cluster_id(node.data):
            continue
        node.data.mkdir(parents=True, exist_ok=True)
        config = _server_properties(settings, node)
        config.write()
        run_tool(format_command(str(config.path), cluster),
                 what=f"formatting Kafka's storage in {node.data}")


def metadata(bootstrap_servers: str):
    """One metadata request (librdkafka: a light import, so `invoke status` stays quick);
    no log lines: a caller says why it failed."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    return admin.list_topics(timeout=probes.TIMEOUT_MS / 1000)


def health(settings: Settings) -> Health:
    wanted = len(nodes(settings))

    def check() -> str | None:
        def describe() -> None:
            brokers = len(metadata(settings.kafka_bootstrap_servers).brokers)
            if brokers < wanted:  # a cluster's topics wait for all of them
                raise RuntimeError(f"{brokers} of {wanted} brokers registered")

        return probes.guarded(describe, "Kafka metadata request")

    return Health(f"Kafka answering metadata requests at {settings.kafka_bootstrap_servers}", check)


def node_answers(node: Node) -> bool:
    """The node itself answers a metadata request on its own listener."""
    return probes.guarded(lambda: metadata(f"{node.host}:{node.port}"), "metadata") is None


def out_of_sync(settings: Settings) -> list[str]:
    """`topic/partition` of every partition whose in-sync replicas are fewer than its
    replicas (empty: the cluster is whole)."""
    topics = metadata(settings.kafka_bootstrap_servers).topics
    return [f"{t}/{p}" for t, meta in sorted(topics.items())
            for p, part in sorted(meta.partitions.items()) if len(part.isrs) < len(part.replicas)]


def bootstrap(settings: Settings) -> None:
    """Create the contract's topics, each with the contract's partition count, on every
    broker (replication 3 and two in sync for a write in a cluster)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from apps.contract.models import PURCHASES_TOPIC, TOPIC_PARTITIONS, USER_EVENTS_TOPIC

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        missing = {USER_EVENTS_TOPIC, PURCHASES_TOPIC} - set(admin.list_topics())
        if missing:
            admin.create_topics([
                NewTopic(t, TOPIC_PARTITIONS, replicas(settings),
                         topic_configs={"min.insync.replicas": str(min_insync(settings))})
                for t in sorted(missing)])
    finally:
        admin.close()


SERVICE = Service(
    name="kafka",
    description=f"Apache Kafka {KAFKA_VERSION} (KRaft)",
    url=lambda s: s.kafka_bootstrap_servers,
    ports=lambda s: [port for n in nodes(s) for port in (n.port, n.controller_port)],
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
