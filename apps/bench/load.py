"""A minimal keep-alive HTTP/1.1 load client: prebuilt requests, one coroutine per connection.

The benchmark's client shares the machine with the server; a general-purpose client would
spend more CPU than the server it measures, so this one does only what a load tool must.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field


def http_request(method: str, path: str, host: str, body: bytes) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


async def _read_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head[9:12])


async def _connection(host: str, port: int, requests: list[bytes], deadline: float,
                      result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            writer.write(request)
            status = await _read_status(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1
    finally:
        writer.close()


async def load(host: str, port: int, requests: list[bytes], connections: int,
               max_seconds: float) -> LoadResult:
    """Send every request (round-robin over `connections`), stopping at `max_seconds`."""
    result = LoadResult(seconds=0.0)
    started = time.perf_counter()
    await asyncio.gather(*(
        _connection(host, port, requests[i::connections], started + max_seconds, result)
        for i in range(connections)))
    result.seconds = time.perf_counter() - started
    return result
