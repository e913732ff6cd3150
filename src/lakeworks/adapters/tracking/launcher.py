"""Starting, finding and stopping a workspace's tracking server process.

Owns the life cycle of ``python -m lakeworks.api.tracking_server``: at most one per workspace,
found through ``.lakeworks/tracking.json`` (written by the server once it answers), started on
demand under an exclusive lock on ``.lakeworks/tracking.lock`` so concurrent callers start one,
and stopped with SIGTERM. Never imports MLflow: callers (the job runner) must stay light.
A stale ``tracking.json`` (its process gone) is removed; a process is only ever signalled when
its command line shows it is a Lakeworks tracking server.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from lakeworks.errors import BackendError

SERVER_MODULE = "lakeworks.api.tracking_server"
INFO_FILE = "tracking.json"  # written by lakeworks.api.tracking_server
LOCK_FILE = "tracking.lock"
LOG_FILE = Path("logs") / "tracking.log"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
_LOG_ROTATE_BYTES = 5_000_000
# Variables a job or caller may have set that must not leak into the long-lived server.
_SCRUBBED_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID",
                 "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")
_children: dict[int, subprocess.Popen[bytes]] = {}


class WorkspaceDirs(Protocol):
    """What the launcher needs of a workspace (``services.workspace.Workspace`` fits)."""

    @property
    def path(self) -> Path: ...

    @property
    def state_dir(self) -> Path: ...


# the server is on 127.0.0.1: never go through a proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _read_info(workspace: WorkspaceDirs) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads((workspace.state_dir / INFO_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # half-written or corrupt: treated as stale
    return info


def _process_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:  # reaps our own exited child
        _children.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap() -> None:
    """Collect the exit status of servers this process started that have exited since."""
    for pid in list(_children):
        _process_alive(pid)


def _is_tracking_server(pid: int) -> bool:
    """True if process ``pid`` runs the Lakeworks tracking server (guards against pid reuse)."""
    proc = Path(f"/proc/{pid}/cmdline")
    try:
        if proc.parent.is_dir():
            command = proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        else:
            command = subprocess.run(["ps", "-p", str(pid), "-o", "command="],
                                     capture_output=True, text=True, check=False).stdout
    except OSError:
        return False
    return SERVER_MODULE in command


def _running(pid: int) -> bool:
    """Alive and a tracking server (a zombie or a reused pid is not)."""
    if pid in _children:  # our own child: poll() is authoritative and reaps it
        return _process_alive(pid)
    return _process_alive(pid) and _is_tracking_server(pid)


def _healthy(url: str, timeout: float = 5.0) -> bool:
    try:
        with _DIRECT.open(f"{url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def _remove_info_if(workspace: WorkspaceDirs, pid: object) -> None:
    info = _read_info(workspace)
    if info is not None and info.get("pid") == pid:
        (workspace.state_dir / INFO_FILE).unlink(missing_ok=True)


def _live_server(workspace: WorkspaceDirs) -> dict[str, Any] | None:
    """The info of a running, answering server; stale or dead leftovers are cleaned up."""
    _reap()
    info = _read_info(workspace)
    if info is None:
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not _running(pid):
        _remove_info_if(workspace, pid)
        return None
    if _healthy(str(info.get("url"))):
        return info
    return None


@contextmanager
def _exclusive(workspace: WorkspaceDirs) -> Iterator[None]:
    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    with open(workspace.state_dir / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds, then SIGKILL it."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _running(pid):
                return
            time.sleep(0.05)


def _spawn(workspace: WorkspaceDirs) -> subprocess.Popen[bytes]:
    log_path = workspace.state_dir / LOG_FILE
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists() and log_path.stat().st_size > _LOG_ROTATE_BYTES:
        log_path.replace(log_path.with_suffix(".log.1"))
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    with open(log_path, "ab") as log_file, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, str(workspace.path)],
            stdin=devnull,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workspace.path,
            env=env,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc


def _wait_ready(workspace: WorkspaceDirs, proc: subprocess.Popen[bytes], timeout: float) -> str:
    log_path = workspace.state_dir / LOG_FILE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            raise BackendError(
                f"the tracking server of workspace '{workspace.path}' exited with code "
                f"{proc.returncode} while starting; last lines of {log_path}:\n"
                f"{_log_tail(log_path)}"
            )
        info = _read_info(workspace)
        if info and info.get("pid") == proc.pid and _healthy(str(info["url"]), timeout=2.0):
            return str(info["url"])
        time.sleep(0.05)
    _terminate(proc.pid, 5.0)
    raise BackendError(
        f"the tracking server of workspace '{workspace.path}' did not answer within "
        f"{timeout:g} s; last lines of {log_path}:\n{_log_tail(log_path)}"
    )


def ensure_tracking_server(workspace: WorkspaceDirs, *, timeout: float = START_TIMEOUT_S) -> str:
    """Return the URL of the workspace's tracking server, starting it if none answers.

    Concurrent callers (threads or processes) share one server: starting happens under an
    exclusive lock and re-checks ``tracking.json`` first.

    Raises:
        BackendError: the server exited or did not answer within ``timeout`` seconds; the
            message holds the tail of ``.lakeworks/logs/tracking.log``.

    Example:
        >>> url = ensure_tracking_server(ws)  # doctest: +SKIP
        >>> url.startswith("http://127.0.0.1:")  # doctest: +SKIP
        True
    """
    info = _live_server(workspace)
    if info is not None:
        return str(info["url"])
    with _exclusive(workspace):
        info = _live_server(workspace)
        if info is not None:
            return str(info["url"])
        leftover = _read_info(workspace)
        if leftover and isinstance(leftover.get("pid"), int):
            # Alive but not answering: shutting down, busy or hung. Give it one more, longer
            # chance, then replace it.
            if _healthy(str(leftover.get("url")), timeout=15.0):
                return str(leftover["url"])
            _terminate(leftover["pid"], STOP_TIMEOUT_S)
            _remove_info_if(workspace, leftover["pid"])
        elif leftover is not None:
            (workspace.state_dir / INFO_FILE).unlink(missing_ok=True)
        return _wait_ready(workspace, _spawn(workspace), timeout)


def stop_tracking_server(workspace: WorkspaceDirs, *, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the workspace's tracking server; return whether one was running.

    Sends SIGTERM, waits up to ``timeout`` seconds (then SIGKILL), and removes a leftover
    ``tracking.json``.
    """
    _reap()
    with _exclusive(workspace):
        info = _read_info(workspace)
        if info is None:
            return False
        pid = info.get("pid")
        running = isinstance(pid, int) and _running(pid)
        if running:
            assert isinstance(pid, int)
            _terminate(pid, timeout)
        _remove_info_if(workspace, pid)
        return running


def tracking_server_status(workspace: WorkspaceDirs) -> dict[str, Any] | None:
    """The running server's ``tracking.json`` (pid, port, url, started_at, workspace), or None.

    A stale ``tracking.json`` is removed.
    """
    return _live_server(workspace)
