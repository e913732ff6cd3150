"""The workspace's serving process seen from outside: found, started, notified, waited on, stopped.

Owns the discovery file ``<root>/.lakeworks/serving/server.json`` (written by the server once it
listens) read back as ``ServerInfo`` and trusted only while its pid lives and ``GET /-/live``
answers; starting ``python -m lakeworks.serving --workspace ROOT`` detached (its own session,
output to ``server.out``) when none runs, on the configured port (``serving_port`` if the
settings have one, else 5001, or a free port when that one is taken), one starter at a time
(a lock file); the admin calls ``POST /-/reload`` and ``GET /-/status``; waiting for a
deployment to be ``Succeeded`` or ``Failed``; and stopping the server. Only the standard
library talks HTTP here. It must not decide what is served (``services.endpoints`` does).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeworks.errors import BackendError, InvalidInputError
from lakeworks.services.workspace import Workspace

DEFAULT_PORT = 5001
DEFAULT_HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
DEPLOY_TIMEOUT_S = 300.0
_TAIL_BYTES = 4000


def serving_dir(ws: Workspace) -> Path:
    """``<root>/.lakeworks/serving``: the discovery file, server logs, deployment logs."""
    return ws.state_dir / "serving"


def server_file(ws: Workspace) -> Path:
    return serving_dir(ws) / "server.json"


def deployment_log_dir(ws: Workspace, endpoint: str, deployment: str) -> Path:
    """Where a deployment's ``inference-server.log`` and ``storage-initializer.log`` live."""
    return serving_dir(ws) / "logs" / endpoint / deployment


@dataclass(frozen=True)
class ServerInfo:
    """A running serving process, as its discovery file says."""

    pid: int
    host: str
    port: int
    url: str
    admin_token: str
    started: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "port": self.port, "url": self.url,
                "started": self.started}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _read_info(ws: Workspace) -> ServerInfo | None:
    try:
        data = json.loads(server_file(ws).read_text())
        return ServerInfo(pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]),
                          url=str(data["url"]).rstrip("/"),
                          admin_token=str(data["admin_token"]), started=data.get("started"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _live(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/live", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def find_server(ws: Workspace) -> ServerInfo | None:
    """The workspace's running serving process, or None (a stale discovery file is ignored)."""
    info = _read_info(ws)
    if info is None or not _pid_alive(info.pid) or not _live(info.url):
        return None
    return info


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _configured_port(ws: Workspace) -> int:
    port = ws.settings.serving_port
    return int(port) if isinstance(port, int) else DEFAULT_PORT


def _tail(path: Path, limit: int = _TAIL_BYTES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def _start_lock(ws: Workspace) -> Iterator[None]:
    folder = serving_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "start.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def start_server(ws: Workspace, *, host: str = DEFAULT_HOST, port: int | None = None,
                 timeout: float = START_TIMEOUT_S) -> ServerInfo:
    """Start the serving process in the background (detached) and wait until it listens.

    Raises:
        BackendError: it exited or did not listen within ``timeout``; the message holds the
            tail of ``server.out``.
    """
    wanted = _configured_port(ws) if port is None else port
    if wanted and not _port_free(host, wanted):
        wanted = 0
    folder = serving_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    out_path = folder / "server.out"
    command = [sys.executable, "-m", "lakeworks.serving", "--workspace", str(ws.path),
               "--host", host, "--port", str(wanted)]
    with out_path.open("ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=str(ws.path))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _read_info(ws)
        if info is not None and info.pid == process.pid and _live(info.url):
            _wait_settled(info, deadline)
            return info
        if process.poll() is not None:
            raise BackendError(
                f"the serving process of workspace '{ws.name}' exited with code "
                f"{process.returncode} before listening; its output ({out_path}) ends with:\n"
                f"{_tail(out_path)}")
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    raise BackendError(
        f"the serving process of workspace '{ws.name}' did not listen within {timeout:.0f} s; "
        f"its output ({out_path}) ends with:\n{_tail(out_path)}")


def _wait_settled(info: ServerInfo, deadline: float) -> None:
    """Wait (until ``deadline`` at most) for ``GET /-/ready``: every deployment has started or
    failed, so the first requests do not meet workers still loading."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{info.url}/-/ready", timeout=2.0) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)


def ensure_server(ws: Workspace) -> ServerInfo:
    """The running serving process, started first when none runs (one starter at a time)."""
    found = find_server(ws)
    if found is not None:
        return found
    with _start_lock(ws):
        found = find_server(ws)
        return found if found is not None else start_server(ws)


def _admin(info: ServerInfo, method: str, path: str, timeout: float = 30.0) -> Any:
    request = urllib.request.Request(
        f"{info.url}{path}", method=method, data=b"" if method == "POST" else None,
        headers={"Authorization": f"Bearer {info.admin_token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise BackendError(f"the serving process at {info.url} answered {method} {path} with "
                           f"{exc.code}: {exc.read().decode('utf-8', 'replace')[:500]}") from exc
    except OSError as exc:
        raise BackendError(f"cannot reach the serving process at {info.url} ({method} {path}): "
                           f"{exc}") from exc
    try:
        return json.loads(body) if body.strip() else {}
    except ValueError:
        return {"text": body.decode("utf-8", "replace")}


def reload(ws: Workspace, *, start: bool = True, wait: bool = True) -> ServerInfo | None:
    """Tell the serving process to load the workspace's endpoints again (starting it first
    when ``start`` and none runs); with ``wait``, return once it has applied them (routes,
    keys and ready workers). Returns the server, or None when none runs and not started."""
    info = ensure_server(ws) if start else find_server(ws)
    if info is not None:
        _admin(info, "POST", "/-/reload?wait=true" if wait else "/-/reload",
               timeout=DEPLOY_TIMEOUT_S if wait else 30.0)
    return info


def server_status(ws: Workspace) -> dict[str, Any] | None:
    """``GET /-/status`` of the running server, or None when none runs."""
    info = find_server(ws)
    return None if info is None else _status(info)


def _status(info: ServerInfo) -> dict[str, Any]:
    found = _admin(info, "GET", "/-/status")
    return found if isinstance(found, dict) else {"deployments": found}


def deployment_status(status: dict[str, Any], endpoint: str,
                      deployment: str) -> dict[str, Any] | None:
    """One deployment's entry in a ``/-/status`` answer (list or nested form), or None."""
    endpoints = status.get("endpoints")
    if isinstance(endpoints, dict):
        entry = endpoints.get(endpoint)
        found = _in_collection(entry.get("deployments") if isinstance(entry, dict) else None,
                               endpoint, deployment)
        if found is not None:
            return found
    if isinstance(endpoints, list):
        for entry in endpoints:
            if isinstance(entry, dict) and entry.get("name") == endpoint:
                found = _in_collection(entry.get("deployments"), endpoint, deployment)
                if found is not None:
                    return found
    return _in_collection(status.get("deployments"), endpoint, deployment)


def _in_collection(items: Any, endpoint: str, deployment: str) -> dict[str, Any] | None:
    if isinstance(items, dict):
        direct = items.get(deployment) or items.get(f"{endpoint}/{deployment}")
        return direct if isinstance(direct, dict) else None
    if isinstance(items, list):
        for item in items:
            if not isinstance(item, dict) or item.get("name", item.get("deployment")) != deployment:
                continue
            if item.get("endpoint", endpoint) == endpoint:
                return item
    return None


def _state_of(entry: dict[str, Any]) -> str:
    return str(entry.get("state") or entry.get("provisioning_state") or "Creating")


def wait_for_deployment(ws: Workspace, endpoint: str, deployment: str, *,
                        fingerprint: str | None = None,
                        timeout: float = DEPLOY_TIMEOUT_S) -> dict[str, Any]:
    """Wait until the server reports ``deployment`` ``Succeeded`` (returns its status entry)
    or ``Failed``; with ``fingerprint``, only the workers of that fingerprint count.

    Raises:
        BackendError: ``Failed`` (with the error and the log tail), the server went away, or
            ``timeout`` passed.
    """
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while True:
        info = find_server(ws)
        if info is None:
            raise BackendError(
                f"the serving process of workspace '{ws.name}' stopped while deployment "
                f"'{deployment}' of endpoint '{endpoint}' was starting; see "
                f"{serving_dir(ws) / 'server.out'}")
        entry = deployment_status(_status(info), endpoint, deployment)
        if entry is not None:
            last = entry
            serving = entry.get("fingerprint")
            target = entry.get("target_fingerprint", serving)
            state = _state_of(entry)
            if state == "Succeeded" and fingerprint in (None, serving):
                return entry
            if state == "Failed" and fingerprint in (None, target):
                raise BackendError(_failure(ws, endpoint, deployment, entry))
        if time.monotonic() > deadline:
            state = _state_of(last) if last else "unknown to the server"
            raise BackendError(
                f"deployment '{deployment}' of endpoint '{endpoint}' was not ready within "
                f"{timeout:.0f} s (state: {state}); see `lakeworks online-deployment get-logs "
                f"-n {deployment} -e {endpoint}`")
        time.sleep(0.2)


def _failure(ws: Workspace, endpoint: str, deployment: str, entry: dict[str, Any]) -> str:
    error = entry.get("error") or "no error text"
    tail = entry.get("log_tail") or entry.get("logs") or _tail(
        deployment_log_dir(ws, endpoint, deployment) / "inference-server.log", 2000)
    if isinstance(tail, list):
        tail = "\n".join(str(line) for line in tail)
    return (f"deployment '{deployment}' of endpoint '{endpoint}' failed to start: {error}"
            + (f"\nlog tail:\n{tail}" if tail else ""))


def stop_server(ws: Workspace, *, timeout: float = 15.0) -> bool:
    """Stop the workspace's serving process (SIGTERM, then SIGKILL of its process group after
    ``timeout``). Returns whether one was running."""
    info = _read_info(ws)
    if info is None or not _pid_alive(info.pid):
        with contextlib.suppress(OSError):
            server_file(ws).unlink()
        return False
    try:
        group = os.getpgid(info.pid)
    except ProcessLookupError:
        group = None
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(info.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group == info.pid:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(info.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        if (_read_info(ws) or info).pid == info.pid:
            server_file(ws).unlink()
    return True


def check_port(port: int | None) -> int | None:
    """``port`` if it is a TCP port number (0: any free port).

    Raises:
        InvalidInputError: out of range.
    """
    if port is not None and not 0 <= port <= 65535:
        raise InvalidInputError(f"port {port} is not a TCP port; use 0 to 65535", field="port")
    return port


__all__ = [
    "DEFAULT_PORT",
    "ServerInfo",
    "deployment_log_dir",
    "deployment_status",
    "ensure_server",
    "find_server",
    "reload",
    "server_file",
    "server_status",
    "serving_dir",
    "start_server",
    "stop_server",
    "wait_for_deployment",
]
