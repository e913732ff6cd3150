"""The README's main job: ``lakeworks quickstart`` runs offline and reuses on the second run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import MLClient
from lakeworks.services.workspace import open_workspace
from lakeworks.testing.workspace import stop_workspace_processes


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "demo"
    yield path
    if path.exists():
        ws = open_workspace(path)
        stop_workspace_processes(ws)
        ws.close()


def quickstart(path: Path) -> str:
    # PIP_NO_INDEX proves the demo needs no network: any download attempt would fail.
    env = {**os.environ, "PIP_NO_INDEX": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "lakeworks", "quickstart", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_quickstart_runs_the_pipeline_and_reuses_it(demo: Path) -> None:
    out = quickstart(demo)
    assert "Registered model credit_defaults_model version 1" in out
    assert "test_accuracy" in out
    assert (demo / "tutorial" / "pipeline.yml").is_file()

    quickstart(demo)
    ml = MLClient(workspace=demo)
    latest = ml.jobs.list()[0]
    assert latest.status == "Completed"
    assert all(step.reused_from for step in latest.steps)
    assert [m.version for m in ml.models.list("credit_defaults_model")] == ["1"]
