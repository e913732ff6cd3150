"""The main demo: the production-pipeline tutorial, run offline in a fresh workspace.

Owns the steps ``lakeworks quickstart`` performs through the public SDK, exactly as a user
would: create a workspace, copy the tutorial into it, register the shipped credit-card data
and an environment, load ``pipeline.yml``, submit it, wait, and collect what to show (step
statuses, metrics, the registered model, the web view). Rendering is the CLI's job; the
Synapse lab that ``lakeworks quickstart`` runs next is ``synapse_lab_demo.py``.

Offline differences from the tutorial, both stated in the output: the environment is
``conda-offline.yaml`` (only packages Lakeworks already installed), and the training step skips
its ``pip install 'mlflow<2.19'`` (it uses the workspace's MLflow).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakeworks.client.entities.assets import Data, Environment, Model
from lakeworks.client.entities.jobs import Job, PipelineJob
from lakeworks.client.loaders import load_job
from lakeworks.client.ml_client import MLClient
from lakeworks.errors import NotFoundError
from lakeworks.sample_data import dataset_path
from lakeworks.services.web import start_server
from lakeworks.services.workspace import create_workspace
from lakeworks.tutorials import tutorial_path

MODEL_NAME = "credit_defaults_model"
OFFLINE_NOTES = (
    "environment aml-scikit-learn:0.2.0 uses dependencies/conda-offline.yaml (packages already "
    "installed) instead of the tutorial's conda.yaml, so the demo runs offline",
    "the training step skips the tutorial's `pip install 'mlflow<2.19'` and uses the "
    "workspace's MLflow (run tutorial/pipeline.py for the tutorial exactly as written)",
)


@dataclass
class QuickstartResult:
    """What the demo did, for the CLI to show."""

    workspace: Path
    job: Job
    steps: list[Job] = field(default_factory=list)
    model: Model | None = None
    web_url: str | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = OFFLINE_NOTES


def prepare(path: Path) -> MLClient:
    """Create (or reopen) the demo workspace and copy the tutorial into it."""
    create_workspace(path, exist_ok=True)
    target = path / "tutorial"
    if not target.exists():
        shutil.copytree(
            tutorial_path("production_pipeline"),
            target,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return MLClient(workspace=path)


def register_assets(ml_client: MLClient, tutorial: Path) -> None:
    """The data asset and environment the tutorial expects to exist."""
    try:
        ml_client.data.get("credit-card", version="initial")
    except NotFoundError:
        ml_client.data.create_or_update(
            Data(
                name="credit-card",
                version="initial",
                type="uri_file",
                path=str(dataset_path("credit-card-default")),
                description="UCI default of credit card clients (CC BY 4.0; see its README)",
            )
        )
    ml_client.environments.create_or_update(
        Environment(
            name="aml-scikit-learn",
            version="0.2.0",
            description="Custom environment for Credit Card Defaults pipeline (offline)",
            conda_file=tutorial / "dependencies" / "conda-offline.yaml",
        )
    )


def build_pipeline(tutorial: Path) -> PipelineJob:
    """``pipeline.yml``, with the training step's online ``pip install`` removed."""
    job = load_job(tutorial / "pipeline.yml")
    assert isinstance(job, PipelineJob)
    train = job.jobs["train_job"].component
    if train.command and "&&" in train.command:
        train.command = train.command.split("&&", 1)[1].strip()
    return job


def run_quickstart(
    path: Path, *, on_progress: Callable[[Job], None] | None = None, poll: float = 0.5
) -> QuickstartResult:
    """Run the demo in ``path`` and return what happened (see the module docstring)."""
    started = time.monotonic()
    path = path.expanduser().resolve()
    ml_client = prepare(path)
    tutorial = path / "tutorial"
    register_assets(ml_client, tutorial)
    submitted = ml_client.jobs.create_or_update(build_pipeline(tutorial))
    assert submitted.name is not None
    job = ml_client.jobs.get(submitted.name)
    while job.status not in ("Completed", "Failed", "Canceled", "NotResponding"):
        if on_progress is not None:
            on_progress(job)
        time.sleep(poll)
        job = ml_client.jobs.get(submitted.name)
    if on_progress is not None:
        on_progress(job)
    steps = list(getattr(job, "steps", []))
    model = None
    if job.status == "Completed":
        model = ml_client.models.get(MODEL_NAME, label="latest")
    ws = ml_client._ws
    return QuickstartResult(
        workspace=path,
        job=job,
        steps=steps,
        model=model,
        web_url=start_server(ws),
        seconds=time.monotonic() - started,
    )
