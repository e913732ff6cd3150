"""The serving front process: one HTTP server for every online endpoint of a workspace.

Owns the process around the ASGI app: binding the listening socket (port 0 = a free port),
running uvicorn (httptools, one process, uvloop when installed), loading ``ServingState`` (from
the workspace's services by default) and reconciling the worker pools with it at start and on
``POST /-/reload``, the discovery file ``<root>/.lakeworks/serving/server.json`` (written
atomically once listening, removed at clean exit), graceful shutdown on SIGTERM/SIGINT (stop
accepting, let requests finish, stop workers) and the periodic registration of collected data
as lake tables. Request handling lives in ``lakeworks.serving.app``; the reconciliation of
deployments in ``lakeworks.serving.supervisor``; worker processes in ``lakeworks.serving.pool``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from lakeworks.core.endpoints import ServingState
from lakeworks.errors import BackendError
from lakeworks.server_files import remove_info, write_info
from lakeworks.services.workspace import open_workspace
from lakeworks.serving.access_log import AccessLog
from lakeworks.serving.app import ServingApp
from lakeworks.serving.metrics import ServingMetrics
from lakeworks.serving.supervisor import Supervisor

log = logging.getLogger(__name__)

SERVING_DIR = Path(".lakeworks") / "serving"
INFO_FILE = "server.json"
ACCESS_LOG = "server.log"
SERVICES_MODULE = "lakeworks.services.endpoints"
#: How often collected data is registered as lake tables (seconds).
REGISTER_PERIOD_S = 5.0
GRACEFUL_SHUTDOWN_S = 10

StateLoader = Callable[[], ServingState]


def workspace_state_loader(root: Path) -> StateLoader:
    """A loader reading the serving state of the workspace at ``root`` through its services."""
    opened: list[Any] = []

    def load() -> ServingState:
        if not opened:
            opened.append(open_workspace(root))
        services = importlib.import_module(SERVICES_MODULE)
        state: ServingState = services.serving_state(opened[0])
        return state

    return load


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BackendError(f"cannot listen on {host}:{port}: {exc}; pick another --port or "
                           "stop the process using it") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class _BatchedTransport:
    """A transport whose writes of one event-loop turn leave in one send.

    uvicorn writes a response's head and body separately; joined, a response costs one
    system call and one TCP segment instead of two. Everything else is the real transport's.
    """

    __slots__ = ("_chunks", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._chunks:
            self._loop.call_soon(self._flush)
        self._chunks.append(data)

    def _flush(self) -> None:
        chunks = self._chunks
        if chunks:
            self._chunks = []
            if not self._transport.is_closing():
                self._transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _http_protocol() -> Any:
    """uvicorn's httptools protocol with batched writes (h11 when httptools is missing)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class BatchedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            batched: Any = _BatchedTransport(transport, self.loop)
            super().connection_made(batched)

    return BatchedHttpToolsProtocol


class FrontServer:
    """The front process's server; ``run`` blocks until ``request_stop`` or a signal."""

    def __init__(self, root: Path, *, host: str = "127.0.0.1", port: int = 5001,
                 max_body_mb: float = 100, state_loader: StateLoader | None = None,
                 ready_file: bool = True) -> None:
        self.root = root.expanduser().resolve()
        self.host = host
        self.port = port
        self.max_body = int(max_body_mb * 1024 * 1024)
        self.loader = state_loader or workspace_state_loader(self.root)
        self.ready_file = ready_file
        self.admin_token = secrets.token_urlsafe(32)
        self.state_dir = self.root / SERVING_DIR
        self.info_path = self.state_dir / INFO_FILE
        self.started = threading.Event()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._started_at = ""
        self._supervisor: Supervisor | None = None
        self._workspace: Any = None
        self._register_warned = False

    # -- Admin (the app's admin routes) ---------------------------------------------------------

    async def reload(self, wait: bool) -> dict[str, Any]:
        state = await asyncio.to_thread(self.loader)
        assert self._supervisor is not None
        await self._supervisor.apply(state, wait=wait)
        return {"reloaded": True, **self.status()}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"pid": os.getpid(), "url": self.url, "started": self._started_at}
        if self._supervisor is not None:
            body.update(self._supervisor.status())
        return body

    def ready(self) -> bool:
        return self._supervisor is not None and self._supervisor.settled()

    # -- lifecycle ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask a running server to shut down gracefully (from any thread)."""
        self._stop_requested = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_stop()

    def run(self) -> None:
        """Serve until stopped; raises if the socket cannot be bound or the state not loaded."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._main(sock))
        finally:
            if self.ready_file:
                remove_info(self.info_path, os.getpid())
            sock.close()
            log.info("serving stopped")

    async def _main(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            return
        metrics = ServingMetrics()
        access_log = AccessLog(self.state_dir / ACCESS_LOG)
        app = ServingApp(metrics=metrics, access_log=access_log, max_body=self.max_body,
                         admin_token=self.admin_token, admin=self)
        supervisor = Supervisor(metrics, app.publish)
        self._supervisor = supervisor
        background: list[asyncio.Task[Any]] = []
        try:
            state = await asyncio.to_thread(self.loader)
            await supervisor.apply(state)
            config = uvicorn.Config(app, http=_http_protocol(), loop="none", lifespan="off",
                                    access_log=False, log_config=None, server_header=False,
                                    proxy_headers=False,
                                    date_header=False,
                                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.wait({serving}, timeout=0.01)
            if serving.done():
                await serving
                raise BackendError(f"the HTTP server on {self.url} stopped while starting")
            self._announce()
            background = [asyncio.create_task(access_log.run()),
                          asyncio.create_task(self._register_loop())]
            stopper = asyncio.create_task(self._stop.wait())
            await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            await serving
            stopper.cancel()
        finally:
            for task in background:
                task.cancel()
            await supervisor.close()
            access_log.close()
            if self._workspace is not None:
                self._workspace.close()

    def _announce(self) -> None:
        self._started_at = datetime.now(UTC).isoformat(timespec="seconds")
        if self.ready_file:
            write_info(self.info_path, {
                "pid": os.getpid(), "host": self.host, "port": self.port, "url": self.url,
                "admin_token": self.admin_token, "started": self._started_at})
        log.info("serving endpoints on %s", self.url)
        self.started.set()

    async def _register_loop(self) -> None:
        while True:
            await asyncio.sleep(REGISTER_PERIOD_S)
            supervisor = self._supervisor
            if supervisor is None or not any(d.collections for d in supervisor.state.deployments):
                continue
            await asyncio.to_thread(self._register_collected)

    def _register_collected(self) -> None:
        """Register collected data as lake tables, when the services offer it."""
        started = time.monotonic()
        try:
            services = importlib.import_module(SERVICES_MODULE)
            register = getattr(services, "register_collected_tables", None)
            if register is None:
                return
            if self._workspace is None:
                self._workspace = open_workspace(self.root)
            tables = register(self._workspace)
        except Exception as exc:  # registration is a convenience; serving goes on
            if not self._register_warned:
                log.warning("cannot register collected data as tables: %s", exc)
                self._register_warned = True
            return
        if tables:
            log.info("registered collected tables %s in %.2f s", ", ".join(tables),
                     time.monotonic() - started)


def serve(root: Path, *, host: str = "127.0.0.1", port: int = 5001, max_body_mb: float = 100,
          state_loader: StateLoader | None = None, ready_file: bool = True) -> None:
    """Serve every online endpoint of the workspace at ``root`` until SIGTERM/SIGINT.

    Args:
        root: the workspace folder (``.lakeworks/serving/`` holds the discovery file and logs).
        host: the interface to listen on.
        port: the TCP port; 0 picks a free one (``server.json`` says which).
        max_body_mb: requests with a larger body are answered 413.
        state_loader: where the endpoints come from; default: the workspace's services.
        ready_file: write ``server.json`` once listening (and remove it at exit).

    Raises:
        BackendError: the address is taken.

    Example:
        >>> serve(Path("ws"), port=0)  # doctest: +SKIP
    """
    FrontServer(root, host=host, port=port, max_body_mb=max_body_mb, state_loader=state_loader,
                ready_file=ready_file).run()
