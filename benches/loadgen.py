"""A small closed-loop HTTP/1.1 load generator over raw sockets, for the serving benchmark.

Why not an HTTP client library: a general client spends more CPU per request than the server
under test (httpx costs ~1.7 ms of client CPU per request on the reference machine), so it
measures itself. This one keeps ``concurrency`` keep-alive connections open on one asyncio
event loop (uvloop when installed), sends the same precomputed request bytes on each, and parses
only what it must to find where a response ends: the status line, ``Content-Length`` and, if a
server answers chunked, the chunk sizes. Each connection sends its next request as soon as the
previous answer is complete (closed loop), until a request count or a duration is reached.

Per request it records the latency (request written -> last byte of the answer) and the status;
socket failures count as errors and the connection is reopened while work remains.

Library use::

    request = build_request("127.0.0.1", 5000, "POST", "/invocations", body, headers)
    result = run_load("127.0.0.1", 5000, request, concurrency=16, duration=10.0)
    print(result.req_s, result.p50_ms, result.p99_ms, result.errors)

Command line (a quick check of any server)::

    python benches/loadgen.py http://127.0.0.1:5000/invocations --body body.json -c 16 -d 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

uvloop: Any
try:  # a faster event loop keeps the client's own CPU cost down; optional
    import uvloop
except ImportError:  # pragma: no cover - depends on the environment
    uvloop = None

_HEADER_END = b"\r\n\r\n"


def build_request(host: str, port: int, method: str, path: str, body: bytes = b"",
                  headers: Mapping[str, str] | None = None) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request, built once and sent many times."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    """What one closed-loop run measured."""

    concurrency: int
    seconds: float
    rows_per_request: int
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests
    statuses: Counter[int] = field(default_factory=Counter)
    socket_errors: int = 0
    client_cpu_s: float = 0.0
    first_error: str | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def errors(self) -> int:
        return self.requests - self.ok + self.socket_errors

    @property
    def req_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_s(self) -> float:
        return self.req_s * self.rows_per_request

    def percentile_ms(self, q: float) -> float:
        """The ``q`` quantile (0..1) of latency, nearest rank, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[rank] * 1000.0

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(0.50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(0.99)

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies) / len(self.latencies) * 1000.0 if self.latencies else 0.0

    @property
    def client_cpu_us_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1e6 if self.requests else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests, "seconds": round(self.seconds, 3),
            "req_s": round(self.req_s, 1), "rows_s": round(self.rows_s, 1),
            "p50_ms": round(self.p50_ms, 3), "p99_ms": round(self.p99_ms, 3),
            "mean_ms": round(self.mean_ms, 3), "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "client_cpu_us_per_request": round(self.client_cpu_us_per_request, 1),
            "first_error": self.first_error,
        }


class _Budget:
    """Shared stop rule: a request count, a deadline, or both."""

    def __init__(self, requests: int | None, duration: float | None) -> None:
        self.left = requests if requests is not None else -1
        self.deadline = (time.perf_counter() + duration) if duration is not None else None

    def take(self) -> bool:
        if self.left == 0:
            return False
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return False
        if self.left > 0:
            self.left -= 1
        return True


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the request again after each complete answer."""

    def __init__(self, request: bytes, budget: _Budget, result: LoadResult,
                 done: Callable[[_Connection], None]) -> None:
        self.request = request
        self.budget = budget
        self.result = result
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent_at = 0.0
        self.in_flight = False
        self.status = 0
        self.body_start = -1  # index of the body in buffer once the head is parsed
        self.length = -1  # Content-Length, or -1 for a chunked body
        self.finished = False

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._next()

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        while self.in_flight and self._complete():
            pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.result.socket_errors += 1
            if self.result.first_error is None:
                self.result.first_error = f"connection closed mid-request: {exc!r}"
        self.in_flight = False
        self._finish()

    # -- parsing ------------------------------------------------------------------------------
    def _complete(self) -> bool:
        """Consume one full answer from the buffer if it is there; True if one was."""
        buffer = self.buffer
        if self.body_start < 0:
            end = buffer.find(_HEADER_END)
            if end < 0:
                return False
            self.status = int(buffer[9:12])
            head = buffer[:end].lower()
            self.body_start = end + 4
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                self.length = int(head[at + 17:stop if stop >= 0 else len(head)])
            elif b"transfer-encoding: chunked" in head:
                self.length = -1
            else:
                self.length = 0
        if self.length >= 0:
            end_of_body = self.body_start + self.length
            if len(buffer) < end_of_body:
                return False
        else:
            found = _chunked_end(buffer, self.body_start)
            if found < 0:
                return False
            end_of_body = found
        elapsed = time.perf_counter() - self.sent_at
        self.result.latencies.append(elapsed)
        self.result.statuses[self.status] += 1
        if self.status >= 300 and self.result.first_error is None:
            self.result.first_error = (
                f"HTTP {self.status}: {buffer[self.body_start:end_of_body][:300]!r}")
        self.buffer = buffer[end_of_body:]
        self.body_start = -1
        self.in_flight = False
        self._next()
        return True

    # -- sending ------------------------------------------------------------------------------
    def _next(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if not self.budget.take():
            self.transport.close()
            return
        self.in_flight = True
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.done(self)


def _chunked_end(buffer: bytes, start: int) -> int:
    """Where a chunked body starting at ``start`` ends (after its last CRLF), or -1."""
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return -1
        size = int(buffer[at:line_end].split(b";", 1)[0], 16)
        if size == 0:
            trailer_end = buffer.find(_HEADER_END, line_end)
            if buffer[line_end:line_end + 4] == _HEADER_END:
                return line_end + 4
            return -1 if trailer_end < 0 else trailer_end + 4
        at = line_end + 2 + size + 2
        if at > len(buffer):
            return -1


async def _run(host: str, port: int, request: bytes, concurrency: int,
               requests: int | None, duration: float | None, rows: int) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult(concurrency=concurrency, seconds=0.0, rows_per_request=rows)
    budget = _Budget(requests, duration)
    finished = asyncio.Event()
    open_connections = 0
    reconnects: set[asyncio.Task[None]] = set()

    def on_done(conn: _Connection) -> None:
        nonlocal open_connections
        open_connections -= 1
        more_work = budget.left != 0 and (budget.deadline is None
                                          or time.perf_counter() < budget.deadline)
        if more_work and result.socket_errors < 1000:  # the server dropped us: reconnect
            task = loop.create_task(connect())
            reconnects.add(task)
            task.add_done_callback(reconnects.discard)
        elif open_connections == 0:
            finished.set()

    async def connect() -> None:
        nonlocal open_connections
        open_connections += 1
        try:
            await loop.create_connection(
                lambda: _Connection(request, budget, result, on_done), host, port)
        except OSError as exc:
            result.socket_errors += 1
            result.first_error = result.first_error or f"connect failed: {exc!r}"
            open_connections -= 1
            if open_connections == 0:
                finished.set()

    cpu_before = time.thread_time()
    started = time.perf_counter()
    await asyncio.gather(*(connect() for _ in range(concurrency)))
    if open_connections > 0:
        await finished.wait()
    result.seconds = time.perf_counter() - started
    result.client_cpu_s = time.thread_time() - cpu_before
    return result


def run_load(host: str, port: int, request: bytes, *, concurrency: int = 1,
             requests: int | None = None, duration: float | None = None,
             rows: int = 1, warmup: float = 0.0) -> LoadResult:
    """Run a closed loop of ``concurrency`` connections; stop after ``requests`` or ``duration``.

    For ``warmup`` seconds first, the same load runs uncounted (on its own connections).
    At least one of ``requests`` and ``duration`` must be given.
    """
    if requests is None and duration is None:
        raise ValueError("run_load needs requests= or duration= (or both)")

    async def both() -> LoadResult:
        if warmup > 0:
            await _run(host, port, request, concurrency, None, warmup, rows)
        return await _run(host, port, request, concurrency, requests, duration, rows)

    if uvloop is not None:
        result: LoadResult = uvloop.run(both())
        return result
    return asyncio.run(both())


def event_loop_name() -> str:
    return f"uvloop {uvloop.__version__}" if uvloop is not None else "asyncio"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="http://host:port/path")
    parser.add_argument("--body", type=Path, help="file to POST (GET when not given)")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("-H", "--header", action="append", default=[],
                        help="extra header 'Name: value' (repeatable)")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-n", "--requests", type=int)
    parser.add_argument("-d", "--duration", type=float)
    parser.add_argument("--rows", type=int, default=1, help="rows per request, for rows/s")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, not counted")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    body = args.body.read_bytes() if args.body else b""
    if body:
        headers.setdefault("Content-Type", args.content_type)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = build_request(host, port, "POST" if body else "GET", path or "/", body, headers)
    duration = args.duration if args.duration or args.requests else 10.0
    result = run_load(host, port, request, concurrency=args.concurrency,
                      requests=args.requests, duration=duration, rows=args.rows,
                      warmup=args.warmup)
    print(json.dumps({"loop": event_loop_name(), **result.summary()}, indent=2))


if __name__ == "__main__":
    main()
