"""Command components and command nodes, with Azure ML's signatures.

``CommandComponent`` is a reusable step definition (what ``load_component`` and
``command(...).component`` give, and what ``ml_client.components`` stores). Calling a component
makes a ``Command`` node bound to values. ``Command`` is also what ``command(...)`` returns: a
standalone job, or a node inside ``@dsl.pipeline`` whose ``.outputs.<name>`` feed later steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeworks.client.entities.assets import Data, Environment, _abs
from lakeworks.client.entities.io import (
    Input,
    Output,
    infer_literal_spec,
    input_from_spec,
    output_from_spec,
)
from lakeworks.client.entities.search_space import (
    EarlyTerminationPolicy,
    SamplingAlgorithm,
    SweepDistribution,
)
from lakeworks.client.graph_context import PipelineInput, current_builder
from lakeworks.core.assets import AssetVersion, ComponentSpec, EnvironmentSpec
from lakeworks.core.io import DataInput, InputSpec, Literal_, OutputSpec
from lakeworks.core.jobs import StepSpec
from lakeworks.core.search_space import input_type
from lakeworks.errors import InvalidInputError

if TYPE_CHECKING:
    from lakeworks.client.entities.sweep import SweepJob


def environment_value(env: Any, base: Path | None) -> str | EnvironmentSpec | None:
    """An environment given as a reference string or ``Environment`` object, for a spec."""
    if env is None or isinstance(env, str):
        return env
    if isinstance(env, Environment):
        if env.id is not None and env.version is not None:
            return f"{env.name}:{env.version}"
        return env._to_spec(base)
    if isinstance(env, EnvironmentSpec):
        return env
    raise InvalidInputError(
        f"environment {env!r} is not valid: give 'name:version', 'azureml:name@latest', a "
        "registry URI, or an Environment", field="environment"
    )


class CommandComponent:
    """A command component, as ``azure.ai.ml.entities.CommandComponent``."""

    type = "command"

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        display_name: str | None = None,
        command: str | None = None,
        code: str | Path | None = None,
        environment: Any = None,
        distribution: Any = None,
        resources: Any = None,
        inputs: Mapping[str, Input | InputSpec] | None = None,
        outputs: Mapping[str, Output | OutputSpec | None] | None = None,
        instance_count: int | None = None,
        is_deterministic: bool = True,
        additional_includes: list[str] | None = None,
        properties: dict[str, str] | None = None,
        environment_variables: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.version = str(version) if version is not None else None
        self.description = description
        self.tags = dict(tags or {})
        self.display_name = display_name
        self.command = command
        self.code = _abs(code, None) if code is not None else None
        self.environment = environment
        self.inputs: dict[str, Input] = {
            k: (input_from_spec(v) if isinstance(v, InputSpec) else v)
            for k, v in (inputs or {}).items()
        }
        self.outputs: dict[str, Output] = {
            k: (output_from_spec(v) if isinstance(v, OutputSpec) else (v or Output()))
            for k, v in (outputs or {}).items()
        }
        self.is_deterministic = is_deterministic
        self.properties = dict(properties or {})
        self.environment_variables = dict(environment_variables or {})
        self.id: str | None = None
        self._spec: ComponentSpec | None = None

    def _to_spec(self, base: Path | None = None) -> ComponentSpec:
        if self._spec is not None:
            return self._spec
        if not self.command:
            raise InvalidInputError(
                f"component '{self.name or '?'}' has no command", field="command"
            )
        return ComponentSpec(
            name=self.name or "anonymous_component",
            version=self.version,
            display_name=self.display_name,
            description=self.description,
            tags=self.tags,
            command=self.command,
            code=self.code,
            environment=environment_value(self.environment, base),
            inputs={k: v._to_spec(f"inputs.{k}") for k, v in self.inputs.items()},
            outputs={k: v._to_spec(f"outputs.{k}") for k, v in self.outputs.items()},
            is_deterministic=self.is_deterministic,
            environment_variables=self.environment_variables,
            properties=self.properties,
        )

    @classmethod
    def _from_spec(cls, spec: ComponentSpec) -> CommandComponent:
        env = spec.environment
        out = cls(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            tags=spec.tags,
            display_name=spec.display_name,
            command=spec.command,
            environment=Environment._from_spec(env) if isinstance(env, EnvironmentSpec) else env,
            inputs=dict(spec.inputs),
            outputs=dict(spec.outputs),
            is_deterministic=spec.is_deterministic,
            properties=spec.properties,
            environment_variables=spec.environment_variables,
        )
        out.code = spec.code
        out._spec = spec
        return out

    @classmethod
    def _from_stored(cls, stored: AssetVersion) -> CommandComponent:
        spec = stored.to_spec()
        assert isinstance(spec, ComponentSpec)
        out = cls._from_spec(spec)
        out.id = f"azureml:{stored.name}:{stored.version}"
        return out

    def __call__(self, **inputs: Any) -> Command:
        """A node of this component bound to ``inputs`` (inside ``@dsl.pipeline`` or not)."""
        unknown = set(inputs) - set(self.inputs)
        if unknown:
            raise InvalidInputError(
                f"component '{self.name}' has no input(s) {sorted(unknown)}",
                allowed=self.inputs.keys(),
            )
        return Command(component=self, inputs=inputs, display_name=self.display_name)

    def __repr__(self) -> str:
        return f"CommandComponent(name={self.name!r}, version={self.version!r})"


class NodeOutput:
    """``node.outputs.<name>``: binds a step's output to a later step's input."""

    def __init__(self, node: Command, name: str) -> None:
        self._node = node
        self._name = name

    @property
    def path(self) -> str | None:
        cfg = self._node._output_config.get(self._name)
        return cfg.path if isinstance(cfg, Output) else None

    @path.setter
    def path(self, value: str) -> None:
        self._node._configure_output(self._name, path=value)

    @property
    def mode(self) -> str | None:
        cfg = self._node._output_config.get(self._name)
        return cfg.mode if isinstance(cfg, Output) else None

    @mode.setter
    def mode(self, value: str) -> None:
        self._node._configure_output(self._name, mode=value)

    def __repr__(self) -> str:
        return f"NodeOutput({self._node.name or 'node'}.outputs.{self._name})"


class _Outputs:
    """Attribute access to a node's outputs (``node.outputs.train_data``)."""

    def __init__(self, node: Command) -> None:
        object.__setattr__(self, "_node", node)

    def __getattr__(self, name: str) -> NodeOutput:
        node: Command = object.__getattribute__(self, "_node")
        if name not in node._component.outputs:
            raise AttributeError(
                f"'{node._component.name}' has no output '{name}'; outputs: "
                f"{', '.join(node._component.outputs) or 'none'}"
            )
        return NodeOutput(node, name)

    def __setattr__(self, name: str, value: Output) -> None:
        node: Command = object.__getattribute__(self, "_node")
        if name not in node._component.outputs:
            raise AttributeError(f"'{node._component.name}' has no output '{name}'")
        node._output_config[name] = value

    def __getitem__(self, name: str) -> NodeOutput:
        return self.__getattr__(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        node: Command = object.__getattribute__(self, "_node")
        return iter(node._component.outputs)


class Command:
    """A command node or standalone command job, as ``azure.ai.ml.entities.Command``."""

    def __init__(
        self,
        *,
        component: CommandComponent,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Output | None] | None = None,
        name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        compute: str | None = None,
        environment_variables: dict[str, str] | None = None,
        timeout: int | None = None,
    ) -> None:
        self._component = component
        self.inputs: dict[str, Any] = dict(inputs or {})
        self._output_config: dict[str, Output | str] = {
            k: v for k, v in (outputs or {}).items() if v is not None
        }
        self.name = name
        self.display_name = display_name
        self.description = description
        self.tags = dict(tags or {})
        self.experiment_name = experiment_name
        self.compute = compute
        self.environment_variables = dict(environment_variables or {})
        self.timeout = timeout
        self.outputs = _Outputs(self)
        builder = current_builder()
        if builder is not None:
            builder.add(self)

    @property
    def component(self) -> CommandComponent:
        """The component this node runs (register it with ``ml_client.create_or_update``)."""
        return self._component

    @property
    def type(self) -> str:
        return "command"

    def _configure_output(self, name: str, **changes: Any) -> None:
        cfg = self._output_config.get(name)
        if not isinstance(cfg, Output):
            cfg = Output(type=self._component.outputs[name].type)
        for key, value in changes.items():
            setattr(cfg, key, value)
        self._output_config[name] = cfg

    def __call__(self, **inputs: Any) -> Command:
        """A new node of the same component with other input values."""
        return self._component(**inputs)

    def set_resources(self, **_: Any) -> None:
        """Accepted for compatibility; steps run on this machine."""

    def set_limits(self, *, timeout: int | None = None, **_: Any) -> None:
        """Stop the step after ``timeout`` seconds."""
        self.timeout = timeout

    def set_queue_settings(self, **_: Any) -> None:
        """Accepted for compatibility; there is no queue tier locally."""

    def sweep(
        self,
        *,
        primary_metric: str,
        goal: str,
        sampling_algorithm: str | SamplingAlgorithm = "random",
        compute: str | None = None,
        max_concurrent_trials: int | None = None,
        max_total_trials: int | None = None,
        timeout: int | None = None,
        trial_timeout: int | None = None,
        early_termination_policy: EarlyTerminationPolicy | None = None,
        search_space: Mapping[str, SweepDistribution] | None = None,
        identity: Any = None,
        **_: Any,
    ) -> SweepJob:
        """A sweep over this command's distribution inputs (``Choice``, ``Uniform``...).

        Inside ``@dsl.pipeline`` the sweep takes this node's place. See ``lakeworks.sweep``.
        """
        # SweepJob subclasses Command, so its module imports this one.
        from lakeworks.client.entities.sweep import sweep_node

        return sweep_node(
            self, primary_metric=primary_metric, goal=goal,
            sampling_algorithm=sampling_algorithm, compute=compute,
            max_concurrent_trials=max_concurrent_trials, max_total_trials=max_total_trials,
            timeout=timeout, trial_timeout=trial_timeout,
            early_termination_policy=early_termination_policy, search_space=search_space,
            identity=identity,
        )

    def _to_step(self, refs: dict[int, str], base: Path | None = None) -> StepSpec:
        """The step spec, with node outputs and pipeline inputs written as bindings."""
        comp = self._component._to_spec(base)
        values: dict[str, DataInput | Literal_ | None] = {}
        for key, value in self.inputs.items():
            values[key] = _value(value, refs, f"inputs.{key}")
        outputs: dict[str, OutputSpec | str | None] = {
            k: (v if isinstance(v, str) else v._to_spec(f"outputs.{k}"))
            for k, v in self._output_config.items()
        }
        return StepSpec(
            component=comp,
            component_id=self._component.id,
            inputs=values,
            outputs=outputs,
            display_name=self.display_name,
            compute=self.compute,
            environment_variables=self.environment_variables,
            timeout_seconds=self.timeout,
        )

    def __repr__(self) -> str:
        return f"Command(name={self.name!r}, component={self._component.name!r})"


def _value(value: Any, refs: dict[int, str], where: str) -> DataInput | Literal_ | None:
    if isinstance(value, NodeOutput):
        step = refs.get(id(value._node))
        if step is None:
            raise InvalidInputError(
                f"{where} is bound to an output of a node that is not part of this pipeline"
            )
        return f"${{{{parent.jobs.{step}.outputs.{value._name}}}}}"
    if isinstance(value, PipelineInput):
        return value.binding
    if isinstance(value, SweepDistribution):
        raise InvalidInputError(f"{where} is a search space ({type(value).__name__}); call "
                                ".sweep(...) on the command to tune it", field=where)
    if isinstance(value, Input):
        return _input_value(value, where)
    if isinstance(value, Data):
        if value.path is None:
            raise InvalidInputError(f"{where}: data asset '{value.name}' has no path")
        path = value.id or value.path
        return DataInput(type=value.type, path=path)  # type: ignore[arg-type]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidInputError(f"{where}: value {value!r} of type {type(value).__name__} is not "
                            "supported; give a literal, a path, an Input or a node output")


def _input_value(value: Input, where: str) -> DataInput | Literal_ | None:
    out = value._to_value(where)
    if isinstance(out, DataInput):
        return out.model_copy(update={"path": _abs(out.path, None) or out.path})
    return out


def declare_inputs(inputs: dict[str, Any]) -> tuple[dict[str, Input], dict[str, Any]]:
    """Split ``command(inputs=...)`` into declarations and the job's values."""
    decls: dict[str, Input] = {}
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, Input):
            decls[key] = value
            if value.path is not None or value.default is not None:
                values[key] = value
        elif isinstance(value, Data):
            decls[key] = Input(type=value.type)
            values[key] = value
        elif isinstance(value, NodeOutput | PipelineInput):
            decls[key] = Input(type="uri_folder") if isinstance(value, NodeOutput) else (
                value.declaration()
            )
            values[key] = value
        elif isinstance(value, bool | int | float | str):
            decls[key] = input_from_spec(infer_literal_spec(value))
            values[key] = value
        elif isinstance(value, SweepDistribution):
            decls[key] = Input(type=input_type(value._to_spec(f"inputs.{key}")).value)
            values[key] = value
        else:
            raise InvalidInputError(
                f"input '{key}' = {value!r} is not an Input, a literal or a node output",
                field=f"inputs.{key}",
            )
    return decls, values
