"""Running one step: inputs bound, reuse checked, environment built, command run, outputs kept.

Owns the life of a single command step inside a job: resolving its bindings against upstream
outputs, the reuse key (component content, code, environment, inputs by content, outputs,
variables), materialising inputs as local paths, fresh staging folders for outputs, the
working-folder copy of the code snapshot, the MLflow run and environment variables a script
sees, and committing outputs only after the command succeeded, so that a step killed midway
never leaves outputs anyone could reuse.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from lakeworks.core.assets import ComponentSpec, EnvironmentSpec
from lakeworks.core.environments import EnvironmentPlan, curated_plan, plan_environment
from lakeworks.core.expressions import (
    BindingKind,
    parse_binding,
    render_command,
    render_output_path,
)
from lakeworks.core.io import DATA_TYPES, DataInput, Literal_, OutputSpec, coerce_literal
from lakeworks.core.jobs import JobSpec, StepSpec
from lakeworks.core.refs import DEFAULT_DATASTORE
from lakeworks.ports.compute import StepExecutor, StepResult
from lakeworks.ports.environments import EnvironmentBuilder
from lakeworks.ports.tracking import Tracking
from lakeworks.services import adapter_registry
from lakeworks.services.assets import AssetService, is_uri
from lakeworks.services.datastores import StoredPath
from lakeworks.services.hashing import hash_path, hash_text
from lakeworks.services.workspace import Workspace

HOST_PYTHON = sys.version_info[:3]
REUSE_VERSION = "1"

StepValue = DataInput | Literal_ | None


@dataclass(frozen=True)
class StepOutputs:
    """Stored outputs of a finished step: name -> URI, and name -> content hash."""

    uris: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)


def bind_inputs(
    job: JobSpec,
    step: StepSpec,
    finished: Mapping[str, StepOutputs],
    bound: Mapping[str, Mapping[str, StepValue]],
) -> dict[str, StepValue]:
    """The concrete value of each declared input of ``step`` (bindings followed, defaults used).

    Args:
        job: the resolved job.
        step: the step whose inputs to bind.
        finished: outputs of finished upstream steps, by step name.
        bound: already-bound inputs of other steps, for ``${{parent.jobs.<s>.inputs.<i>}}``.
    """
    comp = step.component
    values: dict[str, StepValue] = {}
    for name, decl in comp.inputs.items():
        value: StepValue = step.inputs.get(name)
        binding = parse_binding(value)
        if binding is not None:
            if binding.kind is BindingKind.PARENT_INPUT:
                value = job.inputs.get(binding.name)
            elif binding.kind is BindingKind.STEP_OUTPUT:
                assert binding.step is not None
                up = finished[binding.step]
                out_decl = job.steps[binding.step].component.outputs[binding.name]
                value = DataInput(
                    type=out_decl.type,
                    path=up.uris[binding.name],
                    mode=decl.mode,
                    content_hash=up.hashes.get(binding.name),
                )
            else:
                assert binding.step is not None
                value = bound[binding.step].get(binding.name)
        if value is None and decl.default is not None:
            value = decl.default
        if value is not None and not isinstance(value, DataInput):
            value = coerce_literal(decl, value, where=f"inputs.{name}")
        values[name] = value
    return values


def environment_plan(comp: ComponentSpec, assets: AssetService) -> EnvironmentPlan:
    """The environment plan of a component (an empty plan runs in the base environment)."""
    env = comp.environment
    if env is None:
        return EnvironmentPlan(requirements=())
    if isinstance(env, str):
        plan = curated_plan(env)
        if plan is None:
            raise AssertionError(f"environment {env!r} should have been resolved at submission")
        return plan
    return plan_for_environment(env, assets)


def plan_for_environment(env: EnvironmentSpec, assets: AssetService) -> EnvironmentPlan:
    build_conda = None
    build_reqs = None
    if env.build and env.build.get("path") and is_uri(env.build["path"]):
        root = assets.local_copy(env.build["path"])
        for fname in ("conda.yaml", "conda.yml", "environment.yml", "environment.yaml"):
            if (root / fname).is_file():
                build_conda = yaml.safe_load((root / fname).read_text()) or {}
                break
        if (root / "requirements.txt").is_file():
            build_reqs = (root / "requirements.txt").read_text().splitlines()
    return plan_environment(env, HOST_PYTHON, build_conda=build_conda, build_requirements=build_reqs)


def reuse_key(step: StepSpec, inputs: Mapping[str, StepValue], plan: EnvironmentPlan) -> str:
    """Everything that determines a deterministic step's outputs, hashed."""
    rendered: dict[str, object] = {}
    for name, value in sorted(inputs.items()):
        if isinstance(value, DataInput):
            rendered[name] = ["data", value.type.value, value.content_hash or value.path]
        else:
            rendered[name] = ["literal", value]
    outputs = {
        name: (out.model_dump(mode="json") if isinstance(out, OutputSpec) else out)
        for name, out in sorted(step.outputs.items())
    }
    declared = {n: o.model_dump(mode="json") for n, o in sorted(step.component.outputs.items())}
    body = json.dumps(
        {
            "component": step.component.content_hash(),
            "python": list(HOST_PYTHON[:2]),
            "plan": list(plan.requirements),
            "inputs": rendered,
            "outputs": outputs,
            "declared_outputs": declared,
            "variables": dict(sorted(step.environment_variables.items())),
        },
        sort_keys=True,
        default=str,
    )
    return hash_text("lakeworks-reuse", REUSE_VERSION, body)


class LogWriter:
    """Appends timestamped Lakeworks lines to a step log (the step's own output goes there too)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock, self.path.open("a") as fh:
            for line in message.splitlines() or [""]:
                fh.write(f"[{stamp}] [lakeworks] {line}\n")

    def tail(self, lines: int = 30) -> str:
        if not self.path.exists():
            return ""
        data = self.path.read_text(errors="replace").splitlines()
        return "\n".join(data[-lines:])


@dataclass
class StepContext:
    """What running one step needs from its job."""

    ws: Workspace
    assets: AssetService
    builder: EnvironmentBuilder
    executor: StepExecutor
    tracking: Tracking
    experiment_id: str
    parent_run_id: str | None
    cancel: threading.Event


@dataclass
class StepRun:
    """The outcome of executing a step."""

    result: StepResult
    outputs: StepOutputs
    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]


def job_dir(ws: Workspace, job_name: str) -> Path:
    """The machine-local folder of a job or step (logs, scratch working folder)."""
    return ws.state_dir / "jobs" / job_name


def log_path(ws: Workspace, job_name: str) -> Path:
    return job_dir(ws, job_name) / "user_logs" / "std_log.txt"


def execute_step(
    ctx: StepContext,
    *,
    job_name: str,
    display_name: str,
    step: StepSpec,
    inputs: Mapping[str, StepValue],
    plan: EnvironmentPlan,
    log: LogWriter,
    on_running: Callable[[str], None] | None = None,
    on_finalizing: Callable[[], None] | None = None,
) -> StepRun:
    """Build the environment, run the command, and commit outputs on success."""
    comp = step.component
    for note in plan.notes:
        log(f"environment: {note}")
    env = ctx.builder.build(plan, log=lambda line: log(f"environment: {line}"))
    layer = job_dir(ctx.ws, job_name) / "env"
    if layer.exists():
        shutil.rmtree(layer)
    env = ctx.builder.scratch(env, layer)
    rendered: dict[str, str | None] = {}
    data_names: set[str] = set()
    for name, value in inputs.items():
        if isinstance(value, DataInput):
            rendered[name] = _materialise(ctx, value, job_name, name, spark=comp.type == "spark")
            data_names.add(name)
        elif value is None:
            rendered[name] = None
        else:
            rendered[name] = str(value)
    staging = {
        name: ctx.ws.artifacts.staging_dir()
        for name, decl in comp.outputs.items()
        if decl.type in DATA_TYPES
    }
    wd = _working_dir(ctx, comp, job_name)
    command = render_command(
        comp.command,
        rendered,
        {n: str(p) for n, p in staging.items()},
        quote=frozenset(data_names),
    )
    run_id = ctx.tracking.create_run(
        ctx.experiment_id,
        display_name,
        parent_run_id=ctx.parent_run_id,
        tags={"lakeworks.job_name": job_name, "lakeworks.step": display_name},
    )
    if on_running is not None:
        on_running(run_id)
    variables = _environment(ctx, env.bin_dir, env.root, job_name, run_id, step, rendered, staging)
    log(f"running in environment {env.key[:12]} ({env.python}): {command}")
    result = ctx.executor.run(
        command,
        cwd=wd,
        env=variables,
        log_path=log.path,
        timeout=step.timeout_seconds,
        cancel=ctx.cancel,
    )
    ok = result.exit_code == 0 and not result.canceled and not result.timed_out
    outputs = StepOutputs()
    if ok:
        if on_finalizing is not None:
            on_finalizing()
        outputs = _commit_outputs(ctx, job_name, step, staging)
        _keep_run_files(ctx, job_name, wd)
        shutil.rmtree(wd, ignore_errors=True)
    else:
        for path in staging.values():
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(layer, ignore_errors=True)
    status = "FINISHED" if ok else ("KILLED" if result.canceled else "FAILED")
    ctx.tracking.end_run(run_id, status)  # type: ignore[arg-type]
    metrics, params = ctx.tracking.run_data(run_id)
    return StepRun(result=result, outputs=outputs, run_id=run_id, metrics=metrics, params=params)


def _materialise(
    ctx: StepContext, value: DataInput, job_name: str, name: str, *, spark: bool = False
) -> str:
    """A local path for a data input; ``direct`` mode passes the URI itself, except to Spark,
    which reads local files here (it has no ``azureml://`` file system)."""
    if value.mode is not None and value.mode.value == "direct" and not spark:
        return value.path
    if value.path.startswith("azureml://"):
        located = ctx.assets.locate(value.path)
        if located.datastore != DEFAULT_DATASTORE and located.store.local_path(located.key) is None:
            # a remote named datastore may change: a fresh copy for this step
            dest = job_dir(ctx.ws, job_name) / "inputs" / name
            return str(ctx.assets.download_to(value.path, dest, located=located))
        return str(ctx.assets.local_copy(value.path))
    if is_uri(value.path):
        dest = job_dir(ctx.ws, job_name) / "inputs" / name
        adapter_registry.load("fetch")(value.path, dest)
        return str(dest)
    return value.path


def _working_dir(ctx: StepContext, comp: ComponentSpec, job_name: str) -> Path:
    wd = job_dir(ctx.ws, job_name) / "wd"
    if wd.exists():
        shutil.rmtree(wd)
    if comp.code is None:
        wd.mkdir(parents=True)
        return wd
    source = ctx.assets.local_copy(comp.code)
    if source.is_dir():
        shutil.copytree(source, wd, symlinks=True)
    else:
        wd.mkdir(parents=True)
        shutil.copy2(source, wd / source.name)
    return wd


def _environment(
    ctx: StepContext,
    bin_dir: Path,
    env_root: Path,
    job_name: str,
    run_id: str,
    step: StepSpec,
    rendered: Mapping[str, str | None],
    staging: Mapping[str, Path],
) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VIRTUAL_ENV"))}
    base.pop("PYTHONHOME", None)
    variables = {
        **base,
        "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}",
        "VIRTUAL_ENV": str(env_root),
        "PYTHONUNBUFFERED": "1",
        # MLflow clients honour proxy settings; the tracking server is on loopback.
        "NO_PROXY": _no_proxy(base.get("NO_PROXY") or base.get("no_proxy")),
        "no_proxy": _no_proxy(base.get("NO_PROXY") or base.get("no_proxy")),
        "MLFLOW_TRACKING_URI": ctx.tracking.uri,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": ctx.experiment_id,
        "AZUREML_RUN_ID": job_name,
        "AZUREML_ARM_WORKSPACE_NAME": ctx.ws.name,
        "LAKEWORKS_WORKSPACE": str(ctx.ws.path),
        "LAKEWORKS_JOB_NAME": job_name,
    }
    for name, value in rendered.items():
        if value is not None:
            variables[f"AZURE_ML_INPUT_{name}"] = value
    for name, path in staging.items():
        variables[f"AZURE_ML_OUTPUT_{name}"] = str(path)
    variables.update(step.component.environment_variables)
    variables.update(step.environment_variables)
    return variables


def _commit_outputs(
    ctx: StepContext, job_name: str, step: StepSpec, staging: Mapping[str, Path]
) -> StepOutputs:
    uris: dict[str, str] = {}
    hashes: dict[str, str] = {}
    store = ctx.ws.artifacts
    for name, path in staging.items():
        digest = hash_path(path)
        target = StoredPath(DEFAULT_DATASTORE, store, f"azureml/{job_name}/{name}")
        override = step.outputs.get(name)
        if isinstance(override, OutputSpec) and override.path:
            target = ctx.assets.locate(
                render_output_path(
                    override.path, name=job_name, output_name=name, datastore=DEFAULT_DATASTORE
                )
            )
            if target.store.exists(target.key):
                target.store.delete(target.key)
        target.store.commit_dir(path, target.key)
        uris[name] = target.uri
        hashes[name] = digest
    return StepOutputs(uris=uris, hashes=hashes)


def _keep_run_files(ctx: StepContext, job_name: str, wd: Path) -> None:
    """Store the files a script wrote under ./outputs and ./logs as job artifacts (Azure's habit)."""
    for sub in ("outputs", "logs"):
        folder = wd / sub
        if folder.is_dir() and any(folder.iterdir()):
            ctx.ws.artifacts.put_dir(folder, f"azureml/{job_name}/artifacts/{sub}")


def _no_proxy(current: str | None) -> str:
    hosts = [h for h in (current or "").split(",") if h]
    for host in ("127.0.0.1", "localhost"):
        if host not in hosts:
            hosts.append(host)
    return ",".join(hosts)
