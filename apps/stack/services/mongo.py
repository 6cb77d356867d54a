"""The MongoDB protocol, served natively by FerretDB 1.x on its PostgreSQL backend.

FerretDB keeps its data in a database of its own (`ferretdb`) on the stack's PostgreSQL,
owned by shopstream's role. Measured against its SQLite backend on the DAG's counts
(upserts and `$inc` by `_id` on a 1,800-document collection): 5-12 ms a document instead
of 46-47 ms, growing more slowly with the collection (docs/user-events-dag.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.settings import Settings, url_address
from apps.stack import probes
from apps.stack.artifacts import GoBinary
from apps.stack.paths import data_dir
from apps.stack.services.postgres import superuser_dsn
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
DATABASE = "ferretdb"  # the PostgreSQL database that holds FerretDB's collections


def _address(settings: Settings) -> tuple[str, int]:
    return url_address(settings.mongo_url, 27017)


def postgresql_url(settings: Settings) -> str:
    """shopstream's PostgreSQL role, on FerretDB's own database."""
    return urlsplit(settings.postgres_url)._replace(scheme="postgres", path=f"/{DATABASE}").geturl()


def programs(settings: Settings) -> list[Program]:
    host, port = _address(settings)
    return [Program("ferretdb", [
        str(FERRETDB.path()),
        "--handler=postgresql",
        f"--state-dir={DATA}",
        f"--listen-addr={host}:{port}",
        "--debug-addr=-",  # no HTTP debug listener: one less port to collide
        "--telemetry=disable",
        "--log-format=text",
    ], env={"FERRETDB_POSTGRESQL_URL": postgresql_url(settings)})]  # not in argv: ps shows argv


def prepare(settings: Settings) -> None:
    """FerretDB's state folder, and its PostgreSQL database (owned by shopstream's role)."""
    import psycopg2
    from psycopg2 import sql

    DATA.mkdir(parents=True, exist_ok=True)
    owner = urlsplit(settings.postgres_url).username
    conn = psycopg2.connect(superuser_dsn(settings))
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(owner)))
    finally:
        conn.close()


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
    description=f"FerretDB {FERRETDB_VERSION} (MongoDB protocol, PostgreSQL backend)",
    url=lambda s: s.mongo_url,
    ports=lambda s: [_address(s)[1]],
    programs=programs,
    health=health,
    needs=("postgres",),
    provision=lambda s: FERRETDB.provision(),
    is_provisioned=FERRETDB.is_cached,
    prepare=prepare,
    bootstrap=bootstrap,
    credentials="none (loopback only)",
    compose_services=("mongo",),
)
