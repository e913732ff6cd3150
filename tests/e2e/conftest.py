"""Fixtures for driving the ``lakeworks`` command line in tests.

``run_cli`` invokes the real Typer app in-process (``typer.testing.CliRunner``) and checks the
exit code; ``lakeworks_script`` is the installed console script, for the few tests that need a
real process; ``workspace`` and ``job_workspace`` are fresh workspaces made with the CLI.
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lakeworks.cli.app import app

RunCli = Callable[..., Result]


def _describe(args: tuple[str, ...], result: Result) -> str:
    text = f"lakeworks {' '.join(args)} -> exit {result.exit_code}\n"
    text += f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(*result.exc_info))
    return text


def invoke(*args: str | Path, expect: int | None = 0) -> Result:
    """Run ``lakeworks ARGS`` in-process; assert the exit code unless ``expect`` is None."""
    argv = tuple(str(a) for a in args)
    result = CliRunner().invoke(app, list(argv))
    if expect is not None:
        assert result.exit_code == expect, _describe(argv, result)
    return result


@pytest.fixture(scope="session")
def run_cli() -> RunCli:
    """``run_cli("data", "list", expect=0)``: the CLI in-process, exit code checked."""
    return invoke


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace created through ``lakeworks workspace create``."""
    path = tmp_path / "ws"
    invoke("workspace", "create", path, "--name", "e2e-ws")
    return path


@pytest.fixture(scope="module")
def job_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One workspace shared by the job tests of a module; its tracking server is stopped after."""
    path = tmp_path_factory.mktemp("jobs") / "ws"
    invoke("workspace", "create", path, "--name", "e2e-jobs")
    try:
        yield path
    finally:
        invoke("-w", path, "server", "stop")


@pytest.fixture(scope="session")
def lakeworks_script() -> Path:
    """The installed ``lakeworks`` console script."""
    beside = Path(sys.executable).with_name("lakeworks")
    found = beside if beside.is_file() else shutil.which("lakeworks")
    if not found:
        pytest.fail("the lakeworks console script is not installed (pip install -e .)")
    return Path(found)
