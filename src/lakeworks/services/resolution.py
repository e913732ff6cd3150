"""Resolving a submitted job into something that runs anywhere, before anything runs.

Owns uploading local code and data (content-addressed), resolving asset references
(``azureml:credit-card:initial``, ``aml-env:0.2.0``) into stored values, turning path strings
bound to data inputs into ``DataInput`` values with the declared type, coercing literals, and
checking that every stored path exists. A resolved ``JobSpec`` names only stored things, so the
runner, a resumed runner or another machine can run it unchanged.
"""

from __future__ import annotations

from pathlib import Path

from lakeworks.core.assets import ComponentSpec, DataSpec, EnvironmentSpec
from lakeworks.core.environments import curated_plan
from lakeworks.core.expressions import BindingKind, parse_binding, render_output_path
from lakeworks.core.graph import build_graph
from lakeworks.core.io import DataInput, InputSpec, IOType, Literal_, OutputSpec, coerce_literal
from lakeworks.core.jobs import JobSpec, StepSpec
from lakeworks.core.refs import (
    DEFAULT_DATASTORE,
    AssetKind,
    is_asset_ref,
    parse_datastore_uri,
    parse_job_output_uri,
)
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.metadata import JobRepo
from lakeworks.services.assets import AssetService, is_uri
from lakeworks.services.hashing import hash_path


class JobResolver:
    """Turns a client-built ``JobSpec`` into a fully resolved one."""

    def __init__(self, assets: AssetService, jobs: JobRepo, *, base_dir: Path | None = None):
        self.assets = assets
        self.jobs = jobs
        self.base_dir = base_dir or Path.cwd()

    def resolve(self, spec: JobSpec) -> JobSpec:
        """Resolve every step and pipeline input; raises InvalidInputError/NotFoundError."""
        declared = _pipeline_input_types(spec)
        inputs = {
            name: self._value(value, declared.get(name), where=f"inputs.{name}")
            for name, value in spec.inputs.items()
        }
        steps = {
            name: self._step(name, step) for name, step in spec.steps.items()
        }
        resolved = spec.model_copy(update={"inputs": inputs, "steps": steps})
        build_graph(resolved)
        return resolved

    # -- steps -----------------------------------------------------------------------------

    def _step(self, name: str, step: StepSpec) -> StepSpec:
        comp = self.resolve_component(step.component, where=f"jobs.{name}")
        inputs: dict[str, DataInput | Literal_ | None] = {}
        for input_name, value in step.inputs.items():
            where = f"jobs.{name}.inputs.{input_name}"
            declared = comp.inputs.get(input_name)
            if declared is None:
                raise InvalidInputError(
                    f"step '{name}' binds input '{input_name}', which component "
                    f"'{comp.name}' does not declare",
                    field=where,
                    allowed=comp.inputs.keys(),
                )
            if parse_binding(value) is not None:
                inputs[input_name] = value
            else:
                inputs[input_name] = self._value(value, declared, where=where)
        for out_name, out in step.outputs.items():
            if isinstance(out, OutputSpec) and out.path:
                where = f"jobs.{name}.outputs.{out_name}.path"
                sample = render_output_path(
                    out.path, name="job", output_name=out_name, datastore=DEFAULT_DATASTORE
                )
                try:
                    self.assets.locate(sample)
                except (InvalidInputError, NotFoundError) as exc:
                    raise InvalidInputError(f"{where}: {exc}") from None
        return step.model_copy(update={"component": comp, "inputs": inputs})

    def resolve_component(self, comp: ComponentSpec, *, where: str) -> ComponentSpec:
        """Upload a local code folder and inline a workspace environment reference."""
        update: dict[str, object] = {}
        if comp.code is not None and not is_uri(comp.code):
            code = Path(comp.code)
            if not code.exists():
                raise NotFoundError(f"{where}: code folder '{code}' does not exist")
            uri, digest = self.assets.snapshot_code(code)
            update.update(code=uri, code_hash=digest)
        env = comp.environment
        if isinstance(env, str):
            update["environment"] = self.resolve_environment(env, where=f"{where}.environment")
        return comp.model_copy(update=update) if update else comp

    def resolve_environment(self, ref: str, *, where: str) -> EnvironmentSpec | str:
        """A curated reference stays a string; a workspace reference becomes its spec."""
        if curated_plan(ref) is not None:
            return ref
        try:
            stored = self.assets.resolve(ref, AssetKind.ENVIRONMENT)
        except NotFoundError as exc:
            raise NotFoundError(f"{where}: {exc}") from None
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from None
        spec = stored.to_spec()
        assert isinstance(spec, EnvironmentSpec)
        return spec

    # -- values ----------------------------------------------------------------------------

    def _value(
        self, value: DataInput | Literal_ | None, declared: InputSpec | None, *, where: str
    ) -> DataInput | Literal_ | None:
        if value is None:
            return None
        if isinstance(value, DataInput):
            if declared is not None and not declared.is_data:
                raise InvalidInputError(
                    f"a {value.type.value} value cannot be bound to an input of type "
                    f"{declared.type.value}",
                    field=where,
                )
            return self.resolve_data(value, where=where)
        if declared is not None and declared.is_data:
            if not isinstance(value, str):
                raise InvalidInputError(
                    f"input of type {declared.type.value} needs a path or data asset, got "
                    f"{value!r}",
                    field=where,
                )
            return self.resolve_data(DataInput(type=declared.type, path=value), where=where)
        if declared is not None:
            return coerce_literal(declared, value, where=where)
        return value

    def resolve_data(self, value: DataInput, *, where: str) -> DataInput:
        """Upload a local path, or resolve an asset reference or stored URI, to a DataInput."""
        path = value.path
        if path.startswith("azureml:") and is_asset_ref(path):
            asset = self.assets.resolve(path, AssetKind.DATA).to_spec()
            assert isinstance(asset, DataSpec)
            return DataInput(
                type=value.type if value.type is not IOType.URI_FOLDER else IOType(asset.type.value),
                path=asset.path,
                mode=value.mode,
                content_hash=asset.data_hash,
            )
        if parse_datastore_uri(path) is not None:
            return value.model_copy(update={"content_hash": self._stored_hash(path, where)})
        job_output = parse_job_output_uri(path)
        if job_output is not None:
            record = self.jobs.get(job_output.job)
            if job_output.output not in record.outputs:
                raise NotFoundError(
                    f"{where}: job '{job_output.job}' has no output '{job_output.output}'",
                )
            base = record.outputs[job_output.output]
            uri = base + ("/" + job_output.path if job_output.path else "")
            return value.model_copy(
                update={"path": uri, "content_hash": self._stored_hash(uri, where)}
            )
        if is_uri(path):
            return value  # external (s3://, https://): used as given
        local = (self.base_dir / path).expanduser() if not Path(path).is_absolute() else Path(path)
        if not local.exists():
            raise NotFoundError(f"{where}: local path '{local}' does not exist")
        uri, digest = self.assets.upload(local)
        return value.model_copy(update={"path": uri, "content_hash": digest})

    def _stored_hash(self, uri: str, where: str) -> str | None:
        try:
            located = self.assets.locate(uri)
        except NotFoundError as exc:
            raise NotFoundError(f"{where}: {exc}") from None
        if not located.store.exists(located.key):
            raise NotFoundError(
                f"{where}: '{uri}' does not exist in datastore '{located.datastore}'"
            )
        local = located.store.local_path(located.key)
        return hash_path(local) if local is not None else None


def _pipeline_input_types(spec: JobSpec) -> dict[str, InputSpec]:
    """For each pipeline input, the declaration of a step input it feeds (data wins)."""
    found: dict[str, InputSpec] = {}
    for step in spec.steps.values():
        for input_name, value in step.inputs.items():
            binding = parse_binding(value)
            if binding is None or binding.kind is not BindingKind.PARENT_INPUT:
                continue
            declared = step.component.inputs.get(input_name)
            if declared is None:
                continue
            current = found.get(binding.name)
            if current is None or (declared.is_data and not current.is_data):
                found[binding.name] = declared
    return found
