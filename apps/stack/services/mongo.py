"""The MongoDB protocol, served natively by FerretDB 1.x on its SQLite backend."""

from __future__ import annotations

from apps.settings import Settings, url_address
from apps.stack import probes
from apps.stack.artifacts import GoBinary
from apps.stack.paths import data_dir
from apps.stack.spec import Health, Program, Service

FERRETDB_VERSION = "v1.24.2"
FERRETDB = GoBinary(
    module="github.com/FerretDB/FerretDB",
    version=FERRETDB_VERSION,
    package="./cmd/ferretdb",
    # FerretDB's release build writes this file; without it the binary refuses to start.
    extra_files=(("build/version/version.txt", f"{FERRETDB_VERSION}\n"),),
)
DATA = data_dir("ferretdb")


def _address(settings: Settings) -> tuple[str, int]:
    return url_address(settings.mongo_url, 27017)


def programs(settings: Settings) -> list[Program]:
    host, port = _address(settings)
    return [Program("ferretdb", [
        str(FERRETDB.path()),
        "--handler=sqlite",
        f"--sqlite-url=file:{DATA}/",
        f"--state-dir={DATA}",
        f"--listen-addr={host}:{port}",
        "--debug-addr=-",  # no HTTP debug listener: one less port to collide
        "--telemetry=disable",
        "--log-format=text",
    ])]


def prepare(settings: Settings) -> None:
    DATA.mkdir(parents=True, exist_ok=True)


def health(settings: Settings) -> Health:
    def check() -> str | None:
        from pymongo import MongoClient

        def ping() -> None:
            with MongoClient(settings.mongo_url, serverSelectionTimeoutMS=2000) as client:
                client.admin.command("ping")

        return probes.guarded(ping, "MongoDB ping")

    return Health(f"MongoDB protocol answering ping at {settings.mongo_url}", check)


def bootstrap(settings: Settings) -> None:
    from pymongo import MongoClient

    from apps.mongo import ensure_collections

    with MongoClient(settings.mongo_url) as client:
        ensure_collections(client[settings.mongo_db])


SERVICE = Service(
    name="mongo",
    description=f"FerretDB {FERRETDB_VERSION} (MongoDB protocol, SQLite backend)",
    url=lambda s: s.mongo_url,
    ports=lambda s: [_address(s)[1]],
    programs=programs,
    health=health,
    provision=lambda s: FERRETDB.provision(),
    is_provisioned=FERRETDB.is_cached,
    prepare=prepare,
    bootstrap=bootstrap,
    credentials="none (loopback only)",
    compose_services=("mongo",),
)
