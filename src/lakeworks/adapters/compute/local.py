"""Local compute: each step is a ``bash -c`` process group on this machine.

Owns starting the process with its environment and working folder, sending its output to the
step's ``std_log.txt``, and stopping the whole process group (the shell and whatever it
started) on timeout or cancellation: SIGTERM first, SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from lakeworks.errors import BackendError
from lakeworks.ports.compute import StepResult

GRACE_SECONDS = 5.0
_POLL = 0.05
_CANCEL_POLL = 0.25


def _shell() -> str:
    found = shutil.which("bash") or shutil.which("sh")
    if found is None:
        raise BackendError("no shell found: Lakeworks runs step commands with bash (or sh)")
    return found


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(_POLL)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class LocalStepExecutor:
    """Runs step commands as local process groups."""

    def __init__(self, grace_seconds: float = GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        timeout: float | None,
        cancel: threading.Event,
    ) -> StepResult:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab", buffering=0) as log:
            try:
                proc = subprocess.Popen(
                    [_shell(), "-c", command],
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise BackendError(f"could not start the step command in '{cwd}': {exc}") from exc
            done = threading.Event()

            def reap() -> None:
                proc.wait()
                done.set()

            waiter = threading.Thread(target=reap, daemon=True)
            waiter.start()
            deadline = time.monotonic() + timeout if timeout else None
            while not done.is_set():
                if cancel.is_set():
                    _kill_group(proc, self.grace_seconds)
                    return StepResult(exit_code=proc.returncode, canceled=True)
                if deadline is not None and time.monotonic() > deadline:
                    _kill_group(proc, self.grace_seconds)
                    return StepResult(exit_code=proc.returncode, timed_out=True)
                wait = _CANCEL_POLL if deadline is None else min(
                    _CANCEL_POLL, max(0.0, deadline - time.monotonic())
                )
                done.wait(wait)
            # Reap anything the shell left running in its group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return StepResult(exit_code=proc.returncode)
