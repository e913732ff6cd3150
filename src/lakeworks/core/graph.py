"""The step graph of a job: dependency edges from bindings, and checks before anything runs.

Owns building the DAG of a ``JobSpec`` (an edge for each ``${{parent.jobs.<s>.outputs.<o>}}``),
rejecting cycles, unknown steps, outputs or inputs, unbound required inputs and type
mismatches, with messages naming the step and field. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lakeworks.core.expressions import Binding, BindingKind, command_refs, parse_binding
from lakeworks.core.io import DataInput, InputSpec, IOType, compatible
from lakeworks.core.jobs import JobSpec, StepSpec
from lakeworks.errors import InvalidInputError


@dataclass(frozen=True)
class StepGraph:
    """Steps in a topological order, with each step's upstream steps."""

    order: tuple[str, ...]
    upstream: dict[str, frozenset[str]] = field(default_factory=dict)

    def downstream_of(self, step: str) -> set[str]:
        """Every step that depends on ``step``, directly or not."""
        out: set[str] = set()
        frontier = [step]
        while frontier:
            cur = frontier.pop()
            for s, ups in self.upstream.items():
                if cur in ups and s not in out:
                    out.add(s)
                    frontier.append(s)
        return out


def _bindings(step: StepSpec) -> Iterator[tuple[str, Binding]]:
    for name, value in step.inputs.items():
        b = parse_binding(value)
        if b is not None:
            yield name, b


def build_graph(job: JobSpec) -> StepGraph:
    """Check a job's steps and bindings and return its graph.

    Raises:
        InvalidInputError: a cycle, an unknown step/input/output, an unbound required input,
            or a literal bound to a data input (or the reverse); the message names the step.
    """
    upstream: dict[str, set[str]] = {}
    for step_name, step in job.steps.items():
        ups: set[str] = set()
        comp = step.component
        for input_name in step.inputs:
            if input_name not in comp.inputs:
                raise InvalidInputError(
                    f"step '{step_name}' binds input '{input_name}', which component "
                    f"'{comp.name}' does not declare",
                    field=f"jobs.{step_name}.inputs.{input_name}",
                    allowed=comp.inputs.keys(),
                )
        for output_name in step.outputs:
            if output_name not in comp.outputs:
                raise InvalidInputError(
                    f"step '{step_name}' sets output '{output_name}', which component "
                    f"'{comp.name}' does not declare",
                    field=f"jobs.{step_name}.outputs.{output_name}",
                    allowed=comp.outputs.keys(),
                )
        for input_name, binding in _bindings(step):
            where = f"jobs.{step_name}.inputs.{input_name}"
            _check_binding(job, step_name, comp.inputs[input_name], binding, where)
            if binding.kind in (BindingKind.STEP_OUTPUT, BindingKind.STEP_INPUT):
                assert binding.step is not None
                ups.add(binding.step)
        for output_name, value in step.outputs.items():
            b = parse_binding(value) if isinstance(value, str) else None
            if isinstance(value, str) and (b is None or b.kind is not BindingKind.PARENT_OUTPUT):
                raise InvalidInputError(
                    f"output '{output_name}' of step '{step_name}' can only be bound to "
                    "${{parent.outputs.<name>}}",
                    field=f"jobs.{step_name}.outputs.{output_name}",
                )
            if b is not None and b.name not in job.outputs:
                raise InvalidInputError(
                    f"step '{step_name}' binds output '{output_name}' to pipeline output "
                    f"'{b.name}', which the pipeline does not declare",
                    field=f"jobs.{step_name}.outputs.{output_name}",
                    allowed=job.outputs.keys(),
                )
        _check_required(job, step_name, step)
        upstream[step_name] = ups
    order = _toposort(upstream)
    return StepGraph(order=tuple(order), upstream={k: frozenset(v) for k, v in upstream.items()})


def _check_binding(
    job: JobSpec, step_name: str, declared: InputSpec, binding: Binding, where: str
) -> None:
    if binding.kind is BindingKind.PARENT_INPUT:
        if binding.name not in job.inputs:
            raise InvalidInputError(
                f"step '{step_name}' binds ${{{{parent.inputs.{binding.name}}}}}, but the "
                "pipeline has no such input",
                field=where,
                allowed=job.inputs.keys(),
            )
        _check_value_type(declared, job.inputs[binding.name], where)
        return
    if binding.kind is BindingKind.PARENT_OUTPUT:
        raise InvalidInputError(
            "an input cannot be bound to a pipeline output", field=where
        )
    assert binding.step is not None
    if binding.step == step_name:
        raise InvalidInputError(
            f"step '{step_name}' binds its own output as an input (a cycle)", field=where
        )
    other = job.steps.get(binding.step)
    if other is None:
        raise InvalidInputError(
            f"step '{step_name}' binds to step '{binding.step}', which does not exist",
            field=where,
            allowed=job.steps.keys(),
        )
    if binding.kind is BindingKind.STEP_OUTPUT:
        if binding.name not in other.component.outputs:
            raise InvalidInputError(
                f"step '{binding.step}' has no output '{binding.name}'",
                field=where,
                allowed=other.component.outputs.keys(),
            )
        if not declared.is_data:
            raise InvalidInputError(
                f"input of type {declared.type.value} cannot take the data output "
                f"'{binding.step}.{binding.name}'",
                field=where,
            )
    elif binding.name not in other.component.inputs:
        raise InvalidInputError(
            f"step '{binding.step}' has no input '{binding.name}'",
            field=where,
            allowed=other.component.inputs.keys(),
        )


def _check_value_type(declared: InputSpec, value: object, where: str) -> None:
    if value is None:
        return
    if isinstance(value, DataInput):
        if not compatible(declared.type, value.type):
            raise InvalidInputError(
                f"a {value.type.value} value cannot be bound to an input of type "
                f"{declared.type.value}",
                field=where,
            )
    elif declared.is_data and not isinstance(value, str):
        raise InvalidInputError(
            f"input of type {declared.type.value} needs a path or data asset, got {value!r}",
            field=where,
        )


def _has_value(job: JobSpec, step: StepSpec, name: str, spec: InputSpec) -> bool:
    if spec.default is not None:
        return True
    value = step.inputs.get(name)
    if value is None:
        return False
    b = parse_binding(value)
    if b is not None and b.kind is BindingKind.PARENT_INPUT:
        return job.inputs.get(b.name) is not None
    return True


def _check_required(job: JobSpec, step_name: str, step: StepSpec) -> None:
    comp = step.component
    refs = command_refs(comp.command)
    for name in refs.required_inputs | refs.optional_inputs:
        if name not in comp.inputs:
            raise InvalidInputError(
                f"the command of step '{step_name}' refers to ${{{{inputs.{name}}}}}, which "
                "the component does not declare",
                field=f"jobs.{step_name}.command",
                allowed=comp.inputs.keys(),
            )
    for name in refs.outputs:
        if name not in comp.outputs:
            raise InvalidInputError(
                f"the command of step '{step_name}' refers to ${{{{outputs.{name}}}}}, which "
                "the component does not declare",
                field=f"jobs.{step_name}.command",
                allowed=comp.outputs.keys(),
            )
    for name, spec in comp.inputs.items():
        needed = not spec.optional or name in refs.required_inputs
        if needed and not _has_value(job, step, name, spec):
            raise InvalidInputError(
                f"required input '{name}' of step '{step_name}' is not bound; give it a value"
                + (" or a pipeline input" if job.type == "pipeline" else ""),
                field=f"jobs.{step_name}.inputs.{name}",
            )
        value = step.inputs.get(name)
        if value is not None and parse_binding(value) is None:
            _check_value_type(spec, value, f"jobs.{step_name}.inputs.{name}")
            if spec.type in (IOType.URI_FILE, IOType.URI_FOLDER) and not isinstance(
                value, DataInput | str
            ):
                raise InvalidInputError(
                    f"input '{name}' of step '{step_name}' needs a path", field=name
                )


def _toposort(upstream: dict[str, set[str]]) -> list[str]:
    """Kahn's algorithm, keeping declaration order among ready steps; raises on a cycle."""
    remaining = {k: set(v) for k, v in upstream.items()}
    order: list[str] = []
    while remaining:
        ready = [s for s, ups in remaining.items() if not ups]
        if not ready:
            cycle = _find_cycle(remaining)
            raise InvalidInputError(
                "the pipeline has a cycle: " + " -> ".join(cycle),
                field="jobs",
            )
        for s in ready:
            order.append(s)
            del remaining[s]
        for ups in remaining.values():
            ups.difference_update(ready)
    return order


def _find_cycle(remaining: dict[str, set[str]]) -> list[str]:
    start = next(iter(remaining))
    path: list[str] = [start]
    seen = {start: 0}
    cur = start
    while True:
        nxt = next(iter(remaining[cur]))
        if nxt in seen:
            return [*path[seen[nxt] :], nxt]
        seen[nxt] = len(path)
        path.append(nxt)
        cur = nxt
