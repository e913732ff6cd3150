"""The workspace tracking server: MLflow's own REST server over one workspace's stores.

Run as ``python -m lakeworks.api.tracking_server <workspace> [--port 0] [--idle-timeout S]``,
normally by ``lakeworks.adapters.tracking.ensure_tracking_server``. Owns the server process:
it binds 127.0.0.1 itself (port 0 = a free port), wires MLflow's server app to the workspace
(backend store = ``Workspace.tracking_store_uri``; proxied ``mlflow-artifacts:/`` artifacts
stored under ``Workspace.mlflow_artifacts_url``; model registry = ``LakeworksRegistryStore``),
announces itself in ``.lakeworks/tracking.json`` once it answers requests, logs to
``.lakeworks/logs/tracking.log``, and exits (removing ``tracking.json``) after
``idle_timeout`` seconds without requests or on SIGTERM/SIGINT. It holds no state of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from lakeworks.api.registry_store import SCHEME, LakeworksRegistryStore
from lakeworks.errors import LakeworksError
from lakeworks.server_files import remove_info, write_info
from lakeworks.services.workspace import Workspace, open_workspace

log = logging.getLogger("lakeworks.api.tracking_server")

INFO_FILE = "tracking.json"
LOG_FILE = Path("logs") / "tracking.log"
_QUIET_LOGGERS = ("alembic", "mlflow", "uvicorn.access", "botocore", "urllib3", "s3fs")


class ActivityMonitor:
    """ASGI wrapper recording when the last request started or ended, and how many run now.

    Once ``closing`` is set it answers 503, so a client never gets a server about to exit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last = time.monotonic()
        self.active = 0
        self.closing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.closing:
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"shutting down"})
            return
        self.active += 1
        self.last = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended, or 0 while one is running."""
        return 0.0 if self.active else time.monotonic() - self.last


def configure_mlflow(workspace: Workspace) -> tuple[str, str]:
    """Point MLflow's server handlers at the workspace's stores; return (backend, registry) URIs.

    Must run before the first request: MLflow's handlers read these settings when they first
    build their stores, which ``initialize_backend_stores`` does now.
    """
    # Imported only now, once logging and the environment are set: importing MLflow's server
    # (about 4 s) reads the environment and builds the app.
    from mlflow.server import handlers
    from mlflow.server.constants import (
        ARTIFACT_ROOT_ENV_VAR,
        ARTIFACTS_DESTINATION_ENV_VAR,
        BACKEND_STORE_URI_ENV_VAR,
        REGISTRY_STORE_URI_ENV_VAR,
        SERVE_ARTIFACTS_ENV_VAR,
    )

    backend = workspace.tracking_store_uri
    registry = f"{SCHEME}:{workspace.path}"
    if workspace.settings.s3_endpoint_url:
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = workspace.settings.s3_endpoint_url
    os.environ.update({
        BACKEND_STORE_URI_ENV_VAR: backend,
        REGISTRY_STORE_URI_ENV_VAR: registry,
        ARTIFACT_ROOT_ENV_VAR: "mlflow-artifacts:/",
        SERVE_ARTIFACTS_ENV_VAR: "true",
        ARTIFACTS_DESTINATION_ENV_VAR: workspace.mlflow_artifacts_url,
        "_MLFLOW_SGI_NAME": "uvicorn",
    })
    handlers._model_registry_store_registry.register(  # type: ignore[no-untyped-call]
        SCHEME, LakeworksRegistryStore
    )
    handlers.initialize_backend_stores(backend, registry, "mlflow-artifacts:/")
    return backend, registry


def build_app(workspace: Workspace) -> ActivityMonitor:
    """MLflow's ASGI app (FastAPI around the Flask REST handlers), wired to ``workspace``."""
    configure_mlflow(workspace)
    from mlflow.server.fastapi_app import app

    return ActivityMonitor(app)


def bind_socket(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port`` 0 picks a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise LakeworksError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _configure_logging(log_path: Path, level: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    debug = level.upper() == "DEBUG"
    logging.getLogger("lakeworks").setLevel(logging.DEBUG if debug else logging.INFO)
    mlflow_logger = logging.getLogger("mlflow")  # MLflow adds its own stderr handler on import
    mlflow_logger.handlers.clear()
    mlflow_logger.propagate = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # Startup noise from MLflow's optional features and its dependencies' deprecations.
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=".*Failure attempting to register store.*")
    warnings.filterwarnings("ignore", message=".*starlette.middleware.wsgi is deprecated.*")


class _StopFlag:
    """Set by SIGTERM/SIGINT; checked by the idle watcher (uvicorn handles them while serving)."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


async def _serve(
    server: uvicorn.Server,
    sock: socket.socket,
    monitor: ActivityMonitor,
    idle_timeout: float,
    stop: _StopFlag,
    announce: Any,
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.wait({task}, timeout=0.02)
    if server.started:
        announce()
    tick = max(0.05, min(1.0, idle_timeout / 4))
    while not task.done():
        if stop.requested or monitor.idle_for() > idle_timeout:
            if not server.should_exit:
                log.info("stopping: %s", "signal" if stop.requested else
                         f"no requests for {idle_timeout:g} s")
            monitor.closing = True
            server.should_exit = True
        await asyncio.wait({task}, timeout=tick)
    await task


def run_server(workspace_path: Path, *, port: int = 0, idle_timeout: float | None = None) -> int:
    """Serve the workspace's tracking API until idle or signalled; return the exit code."""
    started = time.monotonic()
    stop = _StopFlag()
    workspace = open_workspace(workspace_path)
    idle = idle_timeout if idle_timeout is not None else workspace.settings.tracking_idle_timeout
    info_path = workspace.state_dir / INFO_FILE
    _configure_logging(workspace.state_dir / LOG_FILE, workspace.settings.log_level)
    sock = bind_socket(port)
    bound = sock.getsockname()[1]
    log.info("starting tracking server for %s on 127.0.0.1:%d", workspace.path, bound)
    try:
        monitor = build_app(workspace)
        config = uvicorn.Config(monitor, lifespan="off", log_config=None, access_log=False,
                                timeout_graceful_shutdown=10)
        server = uvicorn.Server(config)
        info = {
            "pid": os.getpid(),
            "port": bound,
            "url": f"http://127.0.0.1:{bound}",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "workspace": str(workspace.path),
        }

        def announce() -> None:
            write_info(info_path, info)
            log.info("ready at %s after %.2f s (idle timeout %g s)", info["url"],
                     time.monotonic() - started, idle)

        if not stop.requested:
            asyncio.run(_serve(server, sock, monitor, idle, stop, announce))
    finally:
        remove_info(info_path, os.getpid())
        sock.close()
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakeworks.api.tracking_server",
        description="Serve the MLflow tracking API of a Lakeworks workspace on 127.0.0.1.",
    )
    parser.add_argument("workspace", type=Path, help="the workspace folder")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="exit after this many seconds without requests "
                             "(default: the workspace setting tracking_idle_timeout)")
    args = parser.parse_args(argv)
    try:
        return run_server(args.workspace, port=args.port, idle_timeout=args.idle_timeout)
    except LakeworksError as exc:
        print(f"lakeworks tracking server: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    exit_code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is cleaned up by now; skip the ~1.5 s the interpreter spends finalising
    # MLflow's server modules, so that stopping the server is quick.
    os._exit(exit_code)
