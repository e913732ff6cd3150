"""``load_component``, ``load_job``, ``load_data``, ``load_environment``, ``load_model``:
entities from Azure-style YAML files.

Relative paths in a file (``code``, ``conda_file``, ``path``, a step's ``component: ./x.yml``)
are read relative to that file. ``params_override=[{"key": value}]`` (the CLI's ``--set``)
changes fields before validation. Errors name the file, line, field and allowed values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lakeworks.client.automl_yaml import automl_job_from
from lakeworks.client.entities.assets import BuildContext, Data, Environment, Model, _abs
from lakeworks.client.entities.automl import AutoMLJob
from lakeworks.client.entities.components import Command, CommandComponent
from lakeworks.client.entities.io import Input, Output, infer_literal_spec, input_from_spec
from lakeworks.client.entities.jobs import PipelineJob, PipelineJobSettings
from lakeworks.client.entities.spark import SparkComponent
from lakeworks.client.schemas import (
    CommandJobYaml,
    ComponentYaml,
    DataYaml,
    EnvironmentYaml,
    InputYaml,
    ModelYaml,
    OutputYaml,
    PipelineJobYaml,
    PipelineStepYaml,
    SparkComponentYaml,
    SparkJobYaml,
)
from lakeworks.client.sweep_yaml import sweep_job_from
from lakeworks.core.expressions import BindingKind, parse_binding
from lakeworks.errors import InvalidInputError
from lakeworks.services.documents import Document, load_document, validate

Overrides = Iterable[Mapping[str, Any] | str] | Mapping[str, Any] | None


def _doc(source: str | Path | None, params_override: Overrides) -> Document:
    if source is None:
        raise InvalidInputError("give the YAML file to load (source=...)")
    return load_document(source, overrides=params_override)  # type: ignore[arg-type]


def _environment(value: str | EnvironmentYaml | None, base: Path) -> Any:
    if value is None or isinstance(value, str):
        return value
    return _environment_entity(value, base, default_name="anonymous")


def _environment_entity(y: EnvironmentYaml, base: Path, default_name: str | None = None) -> Environment:
    conda: Any = y.conda_file
    if isinstance(conda, str):
        conda = _abs(conda, base)
    return Environment(
        name=y.name or default_name,
        version=y.version,
        description=y.description,
        tags=y.tags,
        properties=y.properties,
        image=y.image,
        conda_file=conda,
        build=BuildContext(path=_abs(y.build.path, base) or "", dockerfile_path=y.build.dockerfile_path)
        if y.build
        else None,
        os_type=y.os_type,
        inference_config=y.inference_config,
    )


def _input(value: InputYaml, base: Path) -> Input:
    data = value.model_dump(exclude_none=True)
    if "path" in data:
        data["path"] = _abs(data["path"], base)
    return Input(**data)


def _output(value: OutputYaml | None) -> Output:
    return Output(**value.model_dump(exclude_none=True)) if value is not None else Output()


def _component_from(y: ComponentYaml, base: Path) -> CommandComponent:
    return CommandComponent(
        name=y.name,
        version=y.version,
        display_name=y.display_name,
        description=y.description,
        tags=y.tags,
        properties=y.properties,
        command=y.command,
        code=_abs(y.code, base) if y.code is not None else None,
        environment=_environment(y.environment, base),
        inputs={k: _input(v, base) for k, v in y.inputs.items()},
        outputs={k: _output(v) for k, v in y.outputs.items()},
        is_deterministic=y.is_deterministic,
        environment_variables=y.environment_variables,
    )


def load_component(
    source: str | Path | None = None,
    *,
    relative_origin: str | None = None,
    params_override: Overrides = None,
    **kwargs: Any,
) -> CommandComponent:
    """Load a command component YAML (``type: command``).

    Example:
        >>> train = load_component(source="components/train.yml")  # doctest: +SKIP
    """
    doc = _doc(source, params_override)
    if doc.data.get("type") == "spark":
        return _spark_component_from(validate(doc, SparkComponentYaml, "a Spark component"),
                                     doc.folder)
    y = validate(doc, ComponentYaml, "a command component")
    return _component_from(y, doc.folder)


def _spark_entry(y: SparkComponentYaml | SparkJobYaml | PipelineStepYaml) -> dict[str, str] | None:
    if y.entry is None:
        return None
    if y.entry.class_name:
        return {"class_name": y.entry.class_name}
    return {"file": y.entry.file or ""}


def _spark_component_from(y: SparkComponentYaml, base: Path) -> SparkComponent:
    return SparkComponent(
        name=y.name,
        version=y.version,
        display_name=y.display_name,
        description=y.description,
        tags=y.tags,
        code=_abs(y.code, base) if y.code is not None else None,
        entry=_spark_entry(y),
        py_files=y.py_files,
        conf=y.conf,
        args=y.args,
        environment=_environment(y.environment, base),
        inputs={k: _input(v, base) for k, v in y.inputs.items()},
        outputs={k: _output(v) for k, v in y.outputs.items()},
        is_deterministic=y.is_deterministic,
    )


class _ComponentRef(CommandComponent):
    """A registered component named in YAML (``azureml:train:1``), resolved on submission."""

    def __init__(self, ref: str) -> None:
        super().__init__(name=ref)
        self.ref = ref


def _step_value(value: InputYaml | Any, base: Path) -> Any:
    if isinstance(value, InputYaml):
        return _input(value, base)
    return value


def _declare(value: Any, pipeline_inputs: Mapping[str, Any]) -> Input:
    if isinstance(value, Input):
        return Input(type=value.type, optional=value.optional, mode=value.mode)
    binding = parse_binding(value)
    if binding is not None:
        if binding.kind is BindingKind.PARENT_INPUT:
            return _declare(pipeline_inputs.get(binding.name), {})
        return Input(type="uri_folder")
    if value is None:
        return Input(type="string", optional=True)
    if isinstance(value, str) and ("/" in value or value.startswith("azureml:")):
        return Input(type="uri_folder")
    return input_from_spec(infer_literal_spec(value))


def _step(
    doc: Document, name: str, y: PipelineStepYaml, pipeline_inputs: Mapping[str, Any]
) -> Command:
    base = doc.folder
    inputs = {k: _step_value(v, base) for k, v in y.inputs.items()}
    comp: CommandComponent
    if isinstance(y.component, SparkComponentYaml):
        comp = _spark_component_from(y.component, base)
    elif isinstance(y.component, ComponentYaml):
        comp = _component_from(y.component, base)
    elif isinstance(y.component, str):
        ref = y.component
        if ref.startswith("file:"):
            ref = ref[len("file:") :]
        if ref.endswith((".yml", ".yaml")) and not ref.startswith("azureml:"):
            comp = load_component(_abs(ref, base))
        else:
            comp = _ComponentRef(ref)
    elif y.type == "spark":
        comp = SparkComponent(
            name=name,
            code=_abs(y.code, base) if y.code is not None else None,
            entry=_spark_entry(y),
            py_files=y.py_files,
            conf=y.conf,
            args=y.args,
            environment=_environment(y.environment, base),
            inputs={k: _declare(v, pipeline_inputs) for k, v in inputs.items()},
            outputs={k: (_output(v) if isinstance(v, OutputYaml | type(None)) else Output())
                     for k, v in y.outputs.items()},
        )
    else:
        if not y.command:
            raise doc.error(
                f"step '{name}' needs a 'component' or an inline 'command'", ("jobs", name)
            )
        comp = CommandComponent(
            name=name,
            command=y.command,
            code=_abs(y.code, base) if y.code is not None else None,
            environment=_environment(y.environment, base),
            inputs={k: _declare(v, pipeline_inputs) for k, v in inputs.items()},
            outputs={
                k: (_output(v) if isinstance(v, OutputYaml | type(None)) else Output())
                for k, v in y.outputs.items()
            },
            is_deterministic=True if y.is_deterministic is None else y.is_deterministic,
        )
    outputs: dict[str, Output | str] = {}
    for key, out in y.outputs.items():
        if isinstance(out, str):
            outputs[key] = out
        elif isinstance(out, OutputYaml):
            outputs[key] = _output(out)
    node = Command(
        component=comp,
        inputs=inputs,
        outputs={k: v for k, v in outputs.items() if isinstance(v, Output)},
        display_name=y.display_name,
        description=y.description,
        tags=y.tags,
        compute=y.compute,
        environment_variables=y.environment_variables,
        timeout=y.limits.timeout if y.limits else None,
    )
    for key, binding in outputs.items():
        if isinstance(binding, str):
            node._output_config[key] = binding
    return node


def load_job(
    source: str | Path | None = None,
    *,
    relative_origin: str | None = None,
    params_override: Overrides = None,
    **kwargs: Any,
) -> PipelineJob | Command | AutoMLJob:
    """Load a job YAML: ``type: command`` (the default), ``pipeline``, ``spark``, ``sweep``
    or ``automl``."""
    doc = _doc(source, params_override)
    kind = doc.data.get("type", "command")
    if kind == "pipeline":
        return _pipeline(doc)
    if kind == "spark":
        return _spark_job(doc)
    if kind == "sweep":
        return sweep_job_from(doc, environment=_environment, job_inputs=_job_inputs,
                              component=_trial_component)
    if kind == "automl":
        return automl_job_from(doc)
    if kind != "command":
        raise doc.error(
            f"job type {kind!r} is not supported here", ("type",),
            allowed=["automl", "command", "pipeline", "spark", "sweep"],
        )
    y = validate(doc, CommandJobYaml, "a command job")
    base = doc.folder
    decls, values = _job_inputs(y.inputs, base)
    comp = CommandComponent(
        name=y.name,
        display_name=y.display_name,
        command=y.command,
        code=_abs(y.code, base) if y.code is not None else None,
        environment=_environment(y.environment, base),
        inputs=decls,
        outputs={k: _output(v) for k, v in y.outputs.items()},
        is_deterministic=y.is_deterministic,
        environment_variables=y.environment_variables,
    )
    return _job_node(y, comp, values, timeout=y.limits.timeout if y.limits else None)


def _trial_component(ref: str, base: Path) -> CommandComponent:
    """A sweep's ``trial: ./train.yml`` (read relative to ``base``) or ``azureml:train:1``."""
    ref = ref.removeprefix("file:")
    if ref.endswith((".yml", ".yaml")) and not ref.startswith("azureml:"):
        return load_component(_abs(ref, base))
    return _ComponentRef(ref)


def _job_inputs(
    inputs: Mapping[str, InputYaml | Any], base: Path
) -> tuple[dict[str, Input], dict[str, Any]]:
    decls: dict[str, Input] = {}
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, InputYaml):
            decls[key] = _input(value, base)
            if value.path is not None or value.default is not None:
                values[key] = decls[key]
        else:
            decls[key] = _declare(value, {})
            values[key] = value
    return decls, values


def _job_node(y: CommandJobYaml | SparkJobYaml, component: CommandComponent,
              values: dict[str, Any], *, timeout: int | None = None) -> Command:
    """A standalone job node of ``component`` with the job-level fields of its YAML."""
    return Command(
        component=component,
        inputs=values,
        outputs={k: _output(v) for k, v in y.outputs.items() if v is not None and v.path},
        name=y.name,
        display_name=y.display_name,
        description=y.description,
        tags=y.tags,
        experiment_name=y.experiment_name or Path.cwd().name,
        compute=y.compute,
        timeout=timeout,
    )


def _spark_job(doc: Document) -> Command:
    y = validate(doc, SparkJobYaml, "a Spark job")
    base = doc.folder
    decls, values = _job_inputs(y.inputs, base)
    comp = SparkComponent(
        name=y.name,
        display_name=y.display_name,
        code=_abs(y.code, base) if y.code is not None else None,
        entry=_spark_entry(y),
        py_files=y.py_files,
        conf=y.conf,
        args=y.args,
        environment=_environment(y.environment, base),
        inputs=decls,
        outputs={k: _output(v) for k, v in y.outputs.items()},
    )
    return _job_node(y, comp, values)


def _pipeline(doc: Document) -> PipelineJob:
    found = doc.data.get("jobs")
    steps: dict[str, Any] = found if isinstance(found, dict) else {}
    sweeps = [n for n, s in steps.items() if isinstance(s, dict) and s.get("type") == "sweep"]
    others = {**doc.data, "jobs": {n: s for n, s in steps.items() if n not in sweeps}}
    y = validate(Document(others, doc.path, doc.lines), PipelineJobYaml, "a pipeline job")
    base = doc.folder
    inputs = {k: _step_value(v, base) for k, v in y.inputs.items()}

    def step_inputs(
        values: Mapping[str, Any], folder: Path
    ) -> tuple[dict[str, Input], dict[str, Any]]:
        return ({k: _declare(_step_value(v, folder), inputs) for k, v in values.items()},
                {k: _step_value(v, folder) for k, v in values.items()})

    jobs: dict[str, Command] = {
        name: sweep_job_from(doc, environment=_environment, job_inputs=step_inputs,
                             component=_trial_component, loc=("jobs", name), step=name)
        if name in sweeps else _step(doc, name, y.jobs[name], inputs)
        for name in steps
    }
    settings = PipelineJobSettings(
        default_datastore=y.settings.default_datastore,
        default_compute=y.settings.default_compute,
        continue_on_step_failure=y.settings.continue_on_step_failure,
        force_rerun=y.settings.force_rerun,
        max_parallel_steps=y.settings.max_parallel_steps,
    )
    if y.settings.is_deterministic is False:
        for node in jobs.values():
            node.component.is_deterministic = False
    job = PipelineJob(
        jobs=jobs,
        inputs=inputs,
        outputs={k: _output(v) for k, v in y.outputs.items()},
        settings=settings,
        name=y.name,
        display_name=y.display_name or (doc.path.stem if doc.path else None),
        description=y.description,
        tags=y.tags,
        experiment_name=y.experiment_name or Path.cwd().name,
        compute=y.compute,
    )
    job._document = doc  # type: ignore[attr-defined]
    return job


def load_data(
    source: str | Path | None = None, *, params_override: Overrides = None, **kwargs: Any
) -> Data:
    """Load a data asset YAML (name, version, type, path)."""
    doc = _doc(source, params_override)
    y = validate(doc, DataYaml, "a data asset")
    return Data(
        name=y.name,
        version=y.version,
        description=y.description,
        tags=y.tags,
        properties=y.properties,
        type=y.type,
        path=_abs(y.path, doc.folder),
    )


def load_environment(
    source: str | Path | None = None, *, params_override: Overrides = None, **kwargs: Any
) -> Environment:
    """Load an environment YAML (name, version, image, conda_file, build)."""
    doc = _doc(source, params_override)
    y = validate(doc, EnvironmentYaml, "an environment")
    if not y.name:
        raise doc.error("required field 'name' is missing in an environment", ("name",))
    return _environment_entity(y, doc.folder)


def load_model(
    source: str | Path | None = None, *, params_override: Overrides = None, **kwargs: Any
) -> Model:
    """Load a model YAML (name, version, type, path)."""
    doc = _doc(source, params_override)
    y = validate(doc, ModelYaml, "a model")
    return Model(
        name=y.name,
        version=y.version,
        description=y.description,
        tags=y.tags,
        properties=y.properties,
        type=y.type,
        path=_abs(y.path, doc.folder),
        flavors=y.flavors,
        stage=y.stage,
    )
