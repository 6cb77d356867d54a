"""The S3 store, served natively by SeaweedFS (MinIO's server plays this part under docker)."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.settings import Settings
from apps.stack import probes
from apps.stack.artifacts import GoBinary
from apps.stack.paths import data_dir
from apps.stack.spec import Health, Program, Service
from apps.stack.templates import render

SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
WEED = GoBinary(module="github.com/seaweedfs/seaweedfs", version=SEAWEEDFS_VERSION,
                package="./weed")
DATA = data_dir("seaweedfs")


def minio_client(settings: Settings, http_client=None):
    from minio import Minio

    return Minio(settings.s3_host, access_key=settings.s3_access_key,
                 secret_key=settings.s3_secret_key.get_secret_value(), secure=settings.s3_secure,
                 http_client=http_client)


def programs(settings: Settings) -> list[Program]:
    endpoint = urlsplit(settings.s3_endpoint_url)
    identities = render("seaweedfs/s3.json", access_key=settings.s3_access_key,
                        secret_key=settings.s3_secret_key.get_secret_value())
    return [Program("seaweedfs", [
        str(WEED.path()), "server",
        f"-dir={DATA}",
        f"-ip={endpoint.hostname}", f"-ip.bind={endpoint.hostname}",
        f"-master.port={settings.seaweedfs_master_port}",
        "-master.volumeSizeLimitMB=512",  # small volumes: one machine's disk
        f"-volume.port={settings.seaweedfs_volume_port}",
        "-volume.max=64",
        "-filer", f"-filer.port={settings.seaweedfs_filer_port}",
        "-s3", f"-s3.port={endpoint.port}", f"-s3.config={identities.path}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # catalogue servers shopstream does not use
    ], cwd=DATA, files=(identities,))]


def prepare(settings: Settings) -> None:
    DATA.mkdir(parents=True, exist_ok=True)


def health(settings: Settings) -> Health:
    def check() -> str | None:
        def list_buckets() -> None:
            import urllib3

            # One try within the probe's time: the client's default retries take 7 s.
            quick = urllib3.PoolManager(timeout=probes.TIMEOUT_MS / 1000, retries=False)
            minio_client(settings, quick).list_buckets()

        return probes.guarded(list_buckets, "S3 list-buckets")

    return Health(f"S3 API answering signed requests at {settings.s3_endpoint_url}", check)


def bootstrap(settings: Settings) -> None:
    client = minio_client(settings)
    if not client.bucket_exists(settings.s3_bucket):
        client.make_bucket(settings.s3_bucket)


def ports(settings: Settings) -> list[int]:
    # SeaweedFS serves gRPC on each HTTP port + 10000.
    http = [urlsplit(settings.s3_endpoint_url).port, settings.seaweedfs_master_port,
            settings.seaweedfs_volume_port, settings.seaweedfs_filer_port]
    return http + [p + 10000 for p in http[1:]]


SERVICE = Service(
    name="s3",
    description="SeaweedFS (S3 API)",
    url=lambda s: s.s3_endpoint_url,
    ports=ports,
    programs=programs,
    health=health,
    provision=lambda s: WEED.provision(),
    is_provisioned=WEED.is_cached,
    prepare=prepare,
    bootstrap=bootstrap,
    credentials=".env: S3_ACCESS_KEY, S3_SECRET_KEY",
    compose_services=("minio",),
)
