"""One maintenance run per table at a time: a lease object beside the table's log, taken,
renewed and handed over only by conditional PUTs (`If-None-Match: *`, `If-Match: <ETag>`),
which the S3 store decides atomically.

Why a lease: delta-rs (1.6.6) lets two compactions of the same files both commit (removing
a file another commit already removed is no conflict when the data does not change), and
the table then holds those rows twice. The hourly DAG and `invoke compact` may overlap, so
each takes the table's lease first; the stream's appends need none (an append never
conflicts with a compaction).

    s3://<bucket>/<root><area>/_maintenance/lease.json   {owner, host, pid, expires}

A run renews its lease every RENEW_EVERY; a lease not renewed for TTL is free again, and a
holder on this host whose process is gone (`kill -9`) frees it at once, so a killed run is
simply run again.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from minio.error import S3Error

from apps.lake.tables import LakeTable
from apps.settings import Settings
from apps.stack.services.s3 import minio_client
from apps.stack.spec import StackError

TTL = timedelta(seconds=60)
RENEW_EVERY = timedelta(seconds=15)


@dataclass(frozen=True)
class Holder:
    owner: str
    host: str
    pid: int
    expires: datetime

    def to_json(self) -> bytes:
        return json.dumps({"owner": self.owner, "host": self.host, "pid": self.pid,
                           "expires": self.expires.isoformat()}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Holder:
        value = json.loads(data)
        return cls(value["owner"], value["host"], int(value["pid"]),
                   datetime.fromisoformat(value["expires"]))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def claimable(holder: Holder, now: datetime, host: str, alive=process_alive) -> bool:
    """May a run take over this holder's lease: it expired, or its process on this host
    is gone."""
    return holder.expires <= now or (holder.host == host and not alive(holder.pid))


class LeaseHeld(Exception):
    """Another run holds the table's lease."""

    def __init__(self, holder: Holder):
        super().__init__(f"another maintenance run ({holder.owner}, pid {holder.pid} on "
                         f"{holder.host}) holds it until {holder.expires:%H:%M:%S} UTC")
        self.holder = holder


class LeaseLost(StackError):
    """This run could not renew its lease in time: it must commit nothing more."""


def lease_key(table: LakeTable) -> str:
    return f"{table.root}{table.area}/_maintenance/lease.json"


class Lease:
    """`with Lease(settings, table):` the table's lease, renewed in the background; raises
    LeaseHeld on entry if another run holds it. `check()` before each commit."""

    def __init__(self, settings: Settings, table: LakeTable):
        self.client, self.bucket = minio_client(settings), settings.s3_bucket
        self.key = lease_key(table)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.etag: str | None = None
        self.lost = threading.Event()
        self.stopped = threading.Event()
        self.renewer = threading.Thread(target=self.keep_renewing, daemon=True)

    def holder(self) -> Holder:
        return Holder(self.owner, self.host, self.pid, datetime.now(UTC) + TTL)

    def put(self, condition: dict[str, str]) -> str:
        """One conditional PUT of this run's holder; its ETag. S3Error 412 if refused."""
        # The public put_object would send the condition as user metadata.
        response = self.client._execute("PUT", self.bucket, self.key,
                                        body=self.holder().to_json(), headers=condition)
        return response.headers["ETag"]

    def __enter__(self) -> Lease:
        try:
            self.etag = self.put({"If-None-Match": "*"})
        except S3Error as exc:
            if exc.code != "PreconditionFailed":
                raise
            self.take_over()
        self.renewer.start()
        return self

    def take_over(self) -> None:
        found = self.client.get_object(self.bucket, self.key)
        try:
            current, etag = Holder.from_json(found.read()), found.headers["ETag"]
        finally:
            found.close()
            found.release_conn()
        if not claimable(current, datetime.now(UTC), self.host):
            raise LeaseHeld(current)
        try:
            self.etag = self.put({"If-Match": etag})
        except S3Error as exc:
            if exc.code == "PreconditionFailed":  # another run took it over first
                raise LeaseHeld(current) from None
            raise

    def keep_renewing(self) -> None:
        while not self.stopped.wait(RENEW_EVERY.total_seconds()):
            try:
                self.etag = self.put({"If-Match": self.etag})
            except Exception:  # noqa: BLE001 - refused or unreachable: either way not ours
                self.lost.set()
                return

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"the lease {self.key} could not be renewed: stopping")

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.renewer.join()
        if not self.lost.is_set():
            try:
                self.client.remove_object(self.bucket, self.key)
            except S3Error:
                pass  # it expires on its own
