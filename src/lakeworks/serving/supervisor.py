"""The deployments this process serves, reconciled against a new ``ServingState``.

Owns the deployment records the router reads (``Deployment``: the live pool, the pool being
started to replace it, the admission count, the status the admin routes report) and their
reconciliation (``Supervisor.apply``): start new deployments, replace one without downtime
when what it loads changed, resize it in place when only its instance count did, remove the
ones gone, then publish the new routing tables. Worker instances are the pool's
(``lakeworks.serving.pool``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakeworks.core.endpoints import DeploymentRuntime, ServingState
from lakeworks.serving.instance import LOG_FILE, log_tail
from lakeworks.serving.metrics import ServingMetrics
from lakeworks.serving.pool import Pool

#: How long a removed deployment keeps its workers before draining: requests routed to it just
#: before the switch may still be reading their bodies.
_ROUTE_GRACE_S = 0.2


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
