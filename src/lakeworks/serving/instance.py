"""One worker process of the serving front as the front sees it: its start and its stream.

Owns starting one instance (``<python> -m lakeworks.serving.worker --fd N --runtime FILE``
over a socket pair, with the worker environment, output appended to
``<log_dir>/inference-server.log``), the frames sent to it and the answers matched back by
request number (``Worker``, an ``asyncio.Protocol``), asking it to stop, killing it, and
reading the tail of its log. Which instance serves a request, and restarts, are the pool's
(``lakeworks.serving.pool``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import lakeworks
from lakeworks.core.endpoints import DeploymentRuntime
from lakeworks.serving import wire

if TYPE_CHECKING:
    from lakeworks.serving.pool import Pool

log = logging.getLogger(__name__)

LOG_FILE = "inference-server.log"
WORKER_MODULE = "lakeworks.serving.worker"
_STOP_WAIT_S = 5.0
_LOG_TAIL_LINES = 40
_SRC_DIR = str(Path(lakeworks.__file__).resolve().parent.parent)


class WorkerLost(Exception):
    """The worker holding a request exited before answering it."""


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stamp() -> str:
    """Now as an ISO-8601 UTC timestamp, for lines of the instance log."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Worker(asyncio.Protocol):
    """One worker process and the stream to it."""

    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.reader = wire.FrameReader()
        self.pending: dict[int, asyncio.Future[wire.Response]] = {}
        self.abandoned: set[int] = set()  # timed out here, still being scored there
        self.number = 0
        self.ready = False
        self.served = False  # became ready once: a later exit is a crash to restart
        self.retiring = False
        self.alive = False
        self.transport: asyncio.Transport | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._loop = asyncio.get_running_loop()
        self._outgoing: list[bytes] = []
        self.lifecycle: asyncio.Future[wire.Response | None] = self._loop.create_future()
        self.started_at = time.monotonic()
        self.probe_failures = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.alive = True

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except ValueError as exc:
            log.error("worker %s sent a broken frame (%s); stopping it", self.label, exc)
            self.kill()
            return
        pending = self.pending
        for frame in frames:
            response = wire.decode_response(frame)
            if response.number == wire.READY_NUMBER:
                if not self.lifecycle.done():
                    self.lifecycle.set_result(response)
                continue
            future = pending.pop(response.number, None)
            if future is not None:
                if not future.done():
                    future.set_result(response)
            elif self.abandoned:
                self.abandoned.discard(response.number)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.ready = False
        pending, self.pending = self.pending, {}
        self.abandoned.clear()
        for future in pending.values():
            if not future.done():
                future.set_exception(WorkerLost())
        if not self.lifecycle.done():
            self.lifecycle.set_result(None)
        self.pool.worker_exited(self)

    # -- use ------------------------------------------------------------------------------------

    @property
    def load(self) -> int:
        """Requests this instance holds, including ones the front stopped waiting for."""
        return len(self.pending) + len(self.abandoned)

    @property
    def label(self) -> str:
        pid = self.process.pid if self.process else "-"
        return f"{self.pool.runtime.endpoint}/{self.pool.runtime.name}#{self.index} (pid {pid})"

    def send(self, kind: wire.Kind, protocol: wire.Protocol, content_type: str,
             request_id: str, body: bytes) -> tuple[int, asyncio.Future[wire.Response]]:
        """Send one frame; the future resolves with its answer."""
        self.number += 1
        number = self.number
        future: asyncio.Future[wire.Response] = self._loop.create_future()
        self.pending[number] = future
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(wire.encode_request(number, kind, protocol, content_type,
                                                  request_id, body))
        return number, future

    def _flush(self) -> None:
        """Send the frames of this event-loop turn in one write (the worker batches them)."""
        frames = self._outgoing
        if frames and self.transport is not None and self.alive:
            self._outgoing = []
            self.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def spawn(self, runtime_file: Path) -> None:
        """Start the process; the stream is connected by ``connect``."""
        runtime = self.pool.runtime
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._parent = parent
        log_path = Path(runtime.log_dir) / LOG_FILE
        command = [runtime.python, "-m", WORKER_MODULE, "--fd", str(child.fileno()),
                   "--runtime", str(runtime_file)]
        with log_path.open("ab") as output:
            output.write(f"{stamp()} [lakeworks] starting instance {self.index} of "
                         f"{runtime.endpoint}/{runtime.name}: {' '.join(command)}\n".encode())
            output.flush()
            try:
                self.process = subprocess.Popen(
                    command, pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                    stdout=output, stderr=subprocess.STDOUT, env=worker_environment(runtime),
                    start_new_session=True, cwd=runtime.code_dir or runtime.log_dir)
            except OSError as exc:
                parent.close()
                raise OSError(f"cannot start {runtime.python!r}: {exc}") from exc
            finally:
                child.close()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: self, sock=self._parent)

    def stop(self) -> None:
        """Ask the process to exit after what it holds (a STOP frame)."""
        if self.alive and self.transport is not None:
            self._flush()
            self.number += 1
            self.transport.write(wire.encode_request(self.number, wire.Kind.STOP,
                                                     wire.Protocol.NONE, "", "", b""))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        if self.transport is not None:
            self.transport.close()


def worker_environment(runtime: DeploymentRuntime) -> dict[str, str]:
    """The environment a worker process starts with."""
    env = dict(os.environ)
    env.update(runtime.environment_variables)
    if runtime.model_dir:
        env["AZUREML_MODEL_DIR"] = runtime.model_dir
    if runtime.scoring_script:
        env["AZUREML_ENTRY_SCRIPT"] = runtime.scoring_script
    env["WORKER_COUNT"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _SRC_DIR + (os.pathsep + path if path else "")
    return env


async def stop_workers(workers: Iterable[Worker]) -> None:
    """Ask ``workers`` to stop, kill those still running after a while, and reap them."""
    workers = list(workers)
    for worker in workers:
        worker.retiring = True
        worker.stop()
    limit = time.monotonic() + _STOP_WAIT_S
    while any(w.alive for w in workers) and time.monotonic() < limit:
        await asyncio.sleep(0.02)
    for worker in workers:
        if worker.alive or (worker.process is not None and worker.process.poll() is None):
            worker.kill()
    for worker in workers:
        await asyncio.to_thread(exit_code, worker.process)


def exit_code(process: subprocess.Popen[bytes] | None) -> int | None:
    """Wait for ``process`` to exit (killing it if it will not) and return its code."""
    if process is None:
        return None
    try:
        return process.wait(timeout=_STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
