"""Worker processes of the serving front: one pool per deployment, and their supervision.

Owns starting a deployment's ``instance_count`` worker processes (``<python> -m
lakeworks.serving.worker --fd N --runtime FILE`` over a socket pair, output appended to
``<log_dir>/inference-server.log``), waiting for their READY frame, sending SCORE frames to
the least busy ready instance and matching answers by request number, liveness probes (PING
frames), restarting crashed instances with backoff (their requests retried once on another
ready instance), draining and stopping, and the deployment records the router reads
(``Deployment``: the live pool, the admission count) with their reconciliation against a new
``ServingState`` (start, replace without downtime, resize in place, remove). It knows nothing
of HTTP: the router in ``lakeworks.serving.app`` turns its answers into responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import lakeworks
from lakeworks.core.endpoints import DeploymentRuntime, ServingState
from lakeworks.serving import wire
from lakeworks.serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

LOG_FILE = "inference-server.log"
WORKER_MODULE = "lakeworks.serving.worker"
#: Restart delays after a crash (seconds), doubling up to the cap; reset once an instance has
#: stayed up for ``_STABLE_S``.
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 30.0
_STABLE_S = 30.0
_STOP_WAIT_S = 5.0
#: How long a removed deployment keeps its workers before draining: requests routed to it just
#: before the switch may still be reading their bodies.
_ROUTE_GRACE_S = 0.2
_LOG_TAIL_LINES = 40
_SRC_DIR = str(Path(lakeworks.__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True)
class Failure:
    """A request the pool could not get answered: the HTTP status and why."""

    status: int
    message: str


class _WorkerLost(Exception):
    """The worker holding a request exited before answering it."""


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


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


def _stamp() -> str:
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
                future.set_exception(_WorkerLost())
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
            output.write(f"{_stamp()} [lakeworks] starting instance {self.index} of "
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


class Pool:
    """The worker processes of one deployment, all started from the same runtime."""

    def __init__(self, runtime: DeploymentRuntime, metrics: ServingMetrics) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.workers: list[Worker] = []
        self.state = "Creating"
        self.error: str | None = None
        self.info: dict[str, Any] | None = None
        self.closing = False
        self.active = 0
        self.restarts = 0
        self._next_index = 0
        self._backoff = _BACKOFF_FIRST_S
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runtime_file: Path | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def log_path(self) -> Path:
        return Path(self.runtime.log_dir) / LOG_FILE

    @property
    def ready_count(self) -> int:
        return sum(1 for w in self.workers if w.ready and not w.retiring)

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _write_runtime(self) -> Path:
        folder = Path(self.runtime.log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"runtime-{self.runtime.fingerprint}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(self.runtime.model_dump(mode="json"),
                                     option=orjson.OPT_INDENT_2))
        tmp.replace(path)
        return path

    # -- start ---------------------------------------------------------------------------------

    async def start(self) -> bool:
        """Start every instance and wait for them; False (state Failed) if one failed."""
        try:
            self._runtime_file = self._write_runtime()
        except OSError as exc:
            self._fail(f"cannot write the runtime file into {self.runtime.log_dir}: {exc}")
            return False
        results = await asyncio.gather(
            *(self._start_one() for _ in range(self.runtime.instance_count)))
        failures = [r for r in results if r is not None]
        if failures:
            self._fail(failures[0])
            await self.stop()
            return False
        self.state = "Succeeded"
        self._spawn_task(self._probe_loop())
        return True

    def _fail(self, error: str) -> None:
        self.state = "Failed"
        self.error = error
        log.error("deployment %s/%s failed to start: %s", self.runtime.endpoint,
                  self.runtime.name, error)

    def _startup_limit(self) -> float:
        probe = self.runtime.readiness_probe
        return float(probe.initial_delay + probe.period * probe.failure_threshold)

    async def _start_one(self) -> str | None:
        """Start one instance; None once READY, else why it failed."""
        worker = Worker(self, self._next_index)
        self._next_index += 1
        assert self._runtime_file is not None
        started = time.monotonic()
        try:
            worker.spawn(self._runtime_file)
            self.workers.append(worker)
            await worker.connect()
        except OSError as exc:
            if worker in self.workers:
                worker.kill()
                self.workers.remove(worker)
            return str(exc)
        error = await self._await_ready(worker)
        if error is not None:
            if worker in self.workers:
                self.workers.remove(worker)
            return error
        outcome = worker.lifecycle.result()
        assert outcome is not None
        try:
            info = orjson.loads(outcome.body)
        except orjson.JSONDecodeError:
            info = {}
        if self.info is None and isinstance(info, dict):
            self.info = info
        worker.ready = worker.served = True
        worker.started_at = time.monotonic()
        seconds = worker.started_at - started
        self.metrics.observe_load(self.runtime.endpoint, self.runtime.name, seconds)
        self._update_ready_gauge()
        log.info("%s ready after %.2f s", worker.label, seconds)
        return None

    async def _await_ready(self, worker: Worker) -> str | None:
        try:
            outcome = await asyncio.wait_for(asyncio.shield(worker.lifecycle),
                                             self._startup_limit())
        except TimeoutError:
            worker.kill()
            return (f"instance {worker.index} did not load its model within "
                    f"{self._startup_limit():g} s (readiness_probe initial_delay + period x "
                    "failure_threshold)")
        if outcome is None:
            code = await asyncio.to_thread(_exit_code, worker.process)
            return f"instance {worker.index} exited with code {code} before it was ready"
        if outcome.status != 200:
            worker.kill()
            return outcome.body.decode("utf-8", "replace") or "the worker reported a failure"
        if self.closing:
            worker.kill()
            return "the deployment was stopped while this instance started"
        return None

    def _update_ready_gauge(self) -> None:
        if not self.closing:
            self.metrics.gauge(self.metrics.ready_instances, self.runtime.endpoint,
                               self.runtime.name).set(self.ready_count)

    # -- requests ------------------------------------------------------------------------------

    def pick(self, exclude: Worker | None = None) -> Worker | None:
        """The ready instance with the fewest requests in hand."""
        best: Worker | None = None
        best_load = sys.maxsize
        for worker in self.workers:
            if not worker.ready or worker.retiring or worker is exclude:
                continue
            load = worker.load
            if load < best_load:
                best, best_load = worker, load
                if load == 0:
                    break
        return best

    async def request(self, protocol: wire.Protocol, content_type: str, request_id: str,
                      body: bytes, timeout_s: float) -> wire.Response | Failure:
        """Score one request on an instance (retried once elsewhere if it crashes)."""
        worker = self.pick()
        if worker is None:
            return self._unavailable()
        self.active += 1
        self._idle.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            for attempt in (0, 1):
                number, future = worker.send(wire.Kind.SCORE, protocol, content_type,
                                             request_id, body)
                timer = loop.call_at(deadline, _expire, future)
                try:
                    return await future
                except TimeoutError:
                    if worker.pending.pop(number, None) is not None and worker.alive:
                        worker.abandoned.add(number)
                    return Failure(408, self._timeout_message())
                except _WorkerLost:
                    retry = self.pick(exclude=worker) if attempt == 0 else None
                    if retry is None:
                        return Failure(503, f"the instance of deployment '{self.runtime.name}'"
                                       " serving this request exited before answering")
                    worker = retry
                finally:
                    timer.cancel()
            raise AssertionError("unreachable")
        finally:
            self.active -= 1
            if self.active == 0:
                self._idle.set()

    def _timeout_message(self) -> str:
        ms = self.runtime.request_settings.request_timeout_ms
        return f"request timed out after {ms} ms (request_timeout_ms of deployment " \
               f"{self.runtime.name})"

    def _unavailable(self) -> Failure:
        starting = sum(1 for w in self.workers if w.alive and not w.ready)
        return Failure(503, f"deployment '{self.runtime.name}' has no ready instance "
                       f"({starting} starting); retry shortly")

    async def ping(self, worker: Worker, timeout_s: float) -> bool:
        """Whether ``worker`` answers a PING frame in time."""
        if not worker.alive:
            return False
        number, future = worker.send(wire.Kind.PING, wire.Protocol.NONE, "", "", b"")
        try:
            response = await asyncio.wait_for(future, timeout_s)
        except (TimeoutError, _WorkerLost):
            worker.pending.pop(number, None)
            return False
        return response.status == 200

    # -- supervision ---------------------------------------------------------------------------

    async def _probe_loop(self) -> None:
        probe = self.runtime.liveness_probe
        await asyncio.sleep(probe.initial_delay)
        while not self.closing:
            probed = [w for w in self.workers if w.ready and not w.retiring]
            await asyncio.gather(*(self._probe(w) for w in probed))
            await asyncio.sleep(probe.period)

    async def _probe(self, worker: Worker) -> None:
        probe = self.runtime.liveness_probe
        if await self.ping(worker, float(probe.timeout)):
            worker.probe_failures = 0
            return
        worker.probe_failures += 1
        if worker.probe_failures >= probe.failure_threshold and worker.alive and \
                not self.closing:
            log.warning("%s failed %d liveness probes; restarting it", worker.label,
                        worker.probe_failures)
            self._append_log(f"instance {worker.index} failed {worker.probe_failures} "
                             "liveness probes; restarting it")
            worker.kill()

    def _append_log(self, line: str) -> None:
        try:
            with self.log_path.open("a") as handle:
                handle.write(f"{_stamp()} [lakeworks] {line}\n")
        except OSError as exc:
            log.warning("cannot write %s: %s", self.log_path, exc)

    def worker_exited(self, worker: Worker) -> None:
        """Called when a worker's stream closes: reap it, restart it unless it was let go."""
        self._spawn_task(asyncio.to_thread(_exit_code, worker.process))
        self._update_ready_gauge()
        if self.closing or worker.retiring or not worker.served:
            if worker.served and worker in self.workers:
                self.workers.remove(worker)
            return
        if worker in self.workers:
            self.workers.remove(worker)
        self.restarts += 1
        self.metrics.count_restart(self.runtime.endpoint, self.runtime.name)
        if time.monotonic() - worker.started_at > _STABLE_S:
            self._backoff = _BACKOFF_FIRST_S
        delay = self._backoff
        self._backoff = min(_BACKOFF_MAX_S, self._backoff * 2)
        log.warning("%s exited; restarting it in %.1f s", worker.label, delay)
        self._append_log(f"instance {worker.index} exited; restarting it in {delay:.1f} s")
        self._spawn_task(self._restart(delay))

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.closing:
            return
        error = await self._start_one()
        if error is None:
            return
        self.error = error
        self._append_log(f"restart failed: {error}")
        if not self.closing:
            delay = self._backoff
            self._backoff = min(_BACKOFF_MAX_S, self._backoff * 2)
            self._spawn_task(self._restart(delay))

    async def resize(self, count: int) -> None:
        """Grow or shrink to ``count`` instances in place (retired ones finish first)."""
        live = [w for w in self.workers if not w.retiring]
        if count > len(live):
            errors = await asyncio.gather(*(self._start_one() for _ in range(count - len(live))))
            for error in errors:
                if error is not None:
                    self.error = error
            return
        retire = sorted(live, key=lambda w: w.load)[:len(live) - count]
        for worker in retire:
            worker.retiring = True
        self._update_ready_gauge()
        await asyncio.gather(*(self._retire(w) for w in retire))

    async def _retire(self, worker: Worker) -> None:
        limit = time.monotonic() + self.runtime.request_settings.request_timeout_ms / 1000 + 1
        while worker.load and time.monotonic() < limit:
            await asyncio.sleep(0.01)
        await _stop_workers([worker])

    async def drain(self) -> None:
        """Wait until the requests this pool holds are answered (or their timeout passed)."""
        limit = self.runtime.request_settings.request_timeout_ms / 1000 + 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit)

    async def stop(self) -> None:
        """Stop every instance (STOP frames, then SIGKILL for any left after a few seconds)."""
        self.closing = True
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        await _stop_workers(self.workers)
        self.workers = []


async def _stop_workers(workers: Iterable[Worker]) -> None:
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
        await asyncio.to_thread(_exit_code, worker.process)


def _exit_code(process: subprocess.Popen[bytes] | None) -> int | None:
    if process is None:
        return None
    try:
        return process.wait(timeout=_STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _load_key(runtime: DeploymentRuntime) -> str:
    """What decides whether running workers can keep serving (not the instance count)."""
    return runtime.model_copy(update={"instance_count": 1}).fingerprint


class Deployment:
    """A deployment as the router sees it: its live pool and the requests it admitted."""

    __slots__ = ("_tasks", "endpoint", "error", "in_flight", "metrics", "name", "pool", "runtime",
                 "state", "updating")

    def __init__(self, runtime: DeploymentRuntime, metrics: ServingMetrics) -> None:
        self.endpoint = runtime.endpoint
        self.name = runtime.name
        self.runtime = runtime
        self.metrics = metrics
        self.pool: Pool | None = None
        self.updating: Pool | None = None
        self.state = "Creating"
        self.error: str | None = None
        self.in_flight = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def max_in_flight(self) -> int:
        return self.runtime.max_in_flight

    @property
    def timeout_s(self) -> float:
        return self.runtime.request_settings.request_timeout_ms / 1000

    def status(self) -> dict[str, Any]:
        pool = self.pool
        tail = ""
        if self.state == "Failed":
            tail = log_tail(Path(self.runtime.log_dir) / LOG_FILE)
        return {
            "state": self.state,
            "error": self.error,
            "log_tail": tail or None,
            "instance_count": self.runtime.instance_count,
            "instances_ready": pool.ready_count if pool else 0,
            "fingerprint": pool.runtime.fingerprint if pool else None,
            "target_fingerprint": self.runtime.fingerprint,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "restarts": pool.restarts if pool else 0,
            "model": pool.info if pool else None,
        }

    async def start(self) -> None:
        pool = Pool(self.runtime, self.metrics)
        self.updating = pool
        ok = await pool.start()
        if self.updating is not pool:  # superseded by a newer update meanwhile
            if ok:
                await pool.stop()
            return
        self.updating = None
        if ok:
            self.pool, self.state, self.error = pool, "Succeeded", None
        else:
            self.state, self.error = "Failed", pool.error

    async def update(self, runtime: DeploymentRuntime) -> None:
        """Apply a new runtime: resize, replace (zero downtime) or only new limits."""
        old = self.runtime
        self.runtime = runtime
        current = self.pool
        if current is None or _load_key(old) != _load_key(runtime) or current.state != "Succeeded":
            await self._replace()
            return
        current.runtime = runtime
        if old.instance_count != runtime.instance_count:
            self.state = "Updating"
            await current.resize(runtime.instance_count)
            self.state = "Succeeded"
            self.error = current.error

    async def _replace(self) -> None:
        previous = self.pool
        self.state = "Updating" if previous is not None else "Creating"
        fresh = Pool(self.runtime, self.metrics)
        self.updating = fresh
        ok = await fresh.start()
        if self.updating is not fresh:
            if ok:
                await fresh.stop()
            return
        self.updating = None
        if not ok:
            self.state, self.error = "Failed", fresh.error
            return
        self.pool, self.state, self.error = fresh, "Succeeded", None  # the atomic swap
        if previous is not None:
            await previous.drain()
            await previous.stop()

    async def close(self) -> None:
        """Drain and stop every pool of this deployment (after the routes stopped naming it,
        a request already past routing still finishes here)."""
        pools = [p for p in (self.pool, self.updating) if p is not None]
        self.updating = None
        await asyncio.sleep(_ROUTE_GRACE_S)
        for pool in pools:
            await pool.drain()
        await asyncio.gather(*(p.stop() for p in pools))
        self.metrics.gauge(self.metrics.ready_instances, self.endpoint, self.name).set(0)


Publish = Callable[[ServingState, dict[tuple[str, str], Deployment]], None]


class Supervisor:
    """Every deployment this process serves, reconciled against ``ServingState``."""

    def __init__(self, metrics: ServingMetrics, publish: Publish) -> None:
        self.metrics = metrics
        self.publish = publish
        self.deployments: dict[tuple[str, str], Deployment] = {}
        self.state = ServingState()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _track(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def apply(self, state: ServingState, *, wait: bool = False) -> None:
        """Reconcile with ``state``: new deployments start, changed ones update, removed ones
        drain and stop. Routes switch atomically; with ``wait``, return once every
        deployment has settled (ready or failed)."""
        async with self._lock:
            wanted = {(d.endpoint, d.name): d for d in state.deployments}
            current = self.deployments
            work: list[asyncio.Task[Any]] = []
            fresh: dict[tuple[str, str], Deployment] = {}
            for key, runtime in wanted.items():
                deployment = current.get(key)
                if deployment is None:
                    deployment = Deployment(runtime, self.metrics)
                    work.append(self._track(deployment.start()))
                elif runtime != deployment.runtime or deployment.state == "Failed":
                    work.append(self._track(deployment.update(runtime)))
                fresh[key] = deployment
            removed = [d for key, d in current.items() if key not in wanted]
            self.deployments = fresh
            self.state = state
            self.publish(state, fresh)
            for deployment in removed:
                self._track(deployment.close())
        if wait and work:
            await asyncio.gather(*work, return_exceptions=True)

    def settled(self) -> bool:
        return all(d.state in ("Succeeded", "Failed") for d in self.deployments.values())

    def status(self) -> dict[str, Any]:
        endpoints: dict[str, Any] = {}
        for runtime in self.state.endpoints:
            endpoints[runtime.name] = {
                "auth_mode": str(runtime.auth_mode),
                "traffic": dict(runtime.traffic),
                "mirror_traffic": dict(runtime.mirror_traffic),
                "deployments": {},
            }
        for (endpoint, name), deployment in sorted(self.deployments.items()):
            entry = endpoints.setdefault(endpoint, {"deployments": {}})
            entry["deployments"][name] = deployment.status()
        return {"endpoints": endpoints}

    async def close(self) -> None:
        """Drain and stop everything (shutdown)."""
        async with self._lock:
            deployments = list(self.deployments.values())
            self.deployments = {}
        await asyncio.gather(*(d.close() for d in deployments), return_exceptions=True)
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
