"""The worker instances of one deployment: start, routing, probes, restarts, drain and stop.

Owns a deployment's ``instance_count`` worker instances (``lakeworks.serving.instance``):
writing their runtime file, starting them and waiting for their READY frame, sending SCORE
frames to the least busy ready instance, liveness probes (PING frames), restarting crashed
instances with backoff (their requests retried once on another ready instance), resizing,
draining and stopping. It knows nothing of HTTP: the router in ``lakeworks.serving.app`` turns
its answers (or a ``Failure``) into responses; deployments are reconciled against a new
``ServingState`` in ``lakeworks.serving.supervisor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lakeworks.core.endpoints import DeploymentRuntime
from lakeworks.serving import wire
from lakeworks.serving.instance import (
    LOG_FILE,
    Worker,
    WorkerLost,
    exit_code,
    stamp,
    stop_workers,
)
from lakeworks.serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

#: Restart delays after a crash (seconds), doubling up to the cap; reset once an instance has
#: stayed up for ``_STABLE_S``.
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 30.0
_STABLE_S = 30.0


@dataclass(frozen=True, slots=True)
class Failure:
    """A request the pool could not get answered: the HTTP status and why."""

    status: int
    message: str


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


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
            code = await asyncio.to_thread(exit_code, worker.process)
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
                except WorkerLost:
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
        except (TimeoutError, WorkerLost):
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
                handle.write(f"{stamp()} [lakeworks] {line}\n")
        except OSError as exc:
            log.warning("cannot write %s: %s", self.log_path, exc)

    def worker_exited(self, worker: Worker) -> None:
        """Called when a worker's stream closes: reap it, restart it unless it was let go."""
        self._spawn_task(asyncio.to_thread(exit_code, worker.process))
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
        await stop_workers([worker])

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
        await stop_workers(self.workers)
        self.workers = []
