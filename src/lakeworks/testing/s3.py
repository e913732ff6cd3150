"""Pytest fixtures for S3: a moto server on 127.0.0.1 for the session, and a fresh bucket per test.

Owns starting and stopping ``python -m moto.server`` as a subprocess and the dummy AWS
credentials it needs. It must not mock anything: tests talk to the real server over HTTP.

Use it from a ``conftest.py``::

    from lakeworks.testing.s3 import s3_bucket_url, s3_server

Without moto the fixtures skip the test, or fail it when ``LAKEWORKS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

#: set to "1" to turn a missing test service (moto, s3fs, ...) into a failure instead of a skip
REQUIRE_SERVICES_ENV = "LAKEWORKS_REQUIRE_SERVICES"
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "lakeworks-test",
    "AWS_SECRET_ACCESS_KEY": "lakeworks-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# requests to the local server must never go through a proxy from the environment
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server.

    Attributes:
        endpoint_url: where to send S3 requests, e.g. ``http://127.0.0.1:53127``.
        log_path: the server's log file (stdout and stderr).
    """

    endpoint_url: str
    log_path: Path


def missing_service(reason: str) -> NoReturn:
    """Skip the current test because a service is missing, or fail it when services are required.

    Args:
        reason: what is missing and how to get it.
    """
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1 turns this skip into a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with _LOCAL_OPENER.open(url, timeout=1.0) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _wait_until_up(proc: subprocess.Popen[bytes], endpoint: str, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"moto server exited with status {proc.returncode} before answering on "
                f"{endpoint}; its log:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        if _answers(f"{endpoint}/moto-api/"):
            return
        time.sleep(0.05)
    pytest.fail(
        f"moto server did not answer on {endpoint} within {_START_TIMEOUT_S:.0f}s; "
        f"its log:\n{log_path.read_text(errors='replace')[-4000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 for the whole session, with dummy AWS credentials.

    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_DEFAULT_REGION`` are set in
    ``os.environ`` for the session (child processes inherit them) and restored afterwards.
    """
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        missing_service(
            "moto's S3 server is not installed; install it with: pip install 'moto[server]' "
            "(or pip install 'lakeworks[test]')"
        )
    with contextlib.ExitStack() as stack:
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in _DUMMY_ENV.items():
            mp.setenv(name, value)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        for name in ("NO_PROXY", "no_proxy"):
            kept = os.environ.get(name, "")
            mp.setenv(name, f"{kept},127.0.0.1" if kept else "127.0.0.1")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lakeworks-moto-")))
        log_path = log_dir / "moto.log"
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        stack.callback(_stop, proc)
        _wait_until_up(proc, endpoint, log_path)
        yield S3Server(endpoint_url=endpoint, log_path=log_path)


@pytest.fixture
def s3_bucket_url(s3_server: S3Server) -> str:
    """A fresh, empty bucket on the moto server; returns ``s3://<bucket>/artifacts``."""
    bucket = f"lakeworks-{uuid.uuid4().hex[:16]}"
    request = urllib.request.Request(f"{s3_server.endpoint_url}/{bucket}", method="PUT")
    try:
        with _LOCAL_OPENER.open(request, timeout=10.0) as response:
            if response.status != 200:
                pytest.fail(f"moto did not create bucket {bucket}: HTTP {response.status}")
    except OSError as exc:
        pytest.fail(f"could not create bucket {bucket} on {s3_server.endpoint_url}: {exc}")
    return f"s3://{bucket}/artifacts"


__all__ = ["REQUIRE_SERVICES_ENV", "S3Server", "missing_service", "s3_bucket_url", "s3_server"]
