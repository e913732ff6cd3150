"""Pipeline graphs: edges from bindings, and everything rejected before a job runs."""

from __future__ import annotations

import pytest

from lakeworks.core.assets import ComponentSpec
from lakeworks.core.graph import build_graph
from lakeworks.core.io import DataInput, InputSpec, IOType, OutputSpec
from lakeworks.core.jobs import JobSpec, StepSpec
from lakeworks.errors import InvalidInputError


def comp(name: str, ins: dict[str, InputSpec], outs: tuple[str, ...] = ("out",)) -> ComponentSpec:
    refs = " ".join(f"${{{{inputs.{k}}}}}" for k in ins)
    return ComponentSpec(
        name=name,
        command=f"run {refs} " + " ".join(f"${{{{outputs.{o}}}}}" for o in outs),
        inputs=ins,
        outputs={o: OutputSpec() for o in outs},
    )


DATA = InputSpec(type=IOType.URI_FOLDER)
NUM = InputSpec(type=IOType.NUMBER)


def pipeline(steps: dict[str, StepSpec], **inputs: object) -> JobSpec:
    return JobSpec(type="pipeline", inputs=inputs, steps=steps)  # type: ignore[arg-type]


def test_diamond_order_and_upstreams() -> None:
    job = pipeline(
        {
            "d": StepSpec(component=comp("d", {"a": DATA, "b": DATA}), inputs={
                "a": "${{parent.jobs.b.outputs.out}}", "b": "${{parent.jobs.c.outputs.out}}"}),
            "b": StepSpec(component=comp("b", {"x": DATA}),
                          inputs={"x": "${{parent.jobs.a.outputs.out}}"}),
            "c": StepSpec(component=comp("c", {"x": DATA}),
                          inputs={"x": "${{parent.jobs.a.outputs.out}}"}),
            "a": StepSpec(component=comp("a", {"x": DATA}), inputs={"x": "${{parent.inputs.data}}"}),
        },
        data=DataInput(path="azureml://datastores/workspaceblobstore/paths/x"),
    )
    graph = build_graph(job)
    assert graph.order.index("a") < graph.order.index("b") < graph.order.index("d")
    assert graph.upstream["d"] == {"b", "c"}
    assert graph.downstream_of("a") == {"b", "c", "d"}


def test_cycle_is_rejected_naming_the_loop() -> None:
    job = pipeline({
        "a": StepSpec(component=comp("a", {"x": DATA}), inputs={"x": "${{parent.jobs.b.outputs.out}}"}),
        "b": StepSpec(component=comp("b", {"x": DATA}), inputs={"x": "${{parent.jobs.a.outputs.out}}"}),
    })
    with pytest.raises(InvalidInputError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        build_graph(job)


def test_unbound_required_input_names_step_and_input() -> None:
    job = pipeline({"train": StepSpec(component=comp("t", {"lr": NUM}))})
    with pytest.raises(InvalidInputError) as err:
        build_graph(job)
    assert "required input 'lr' of step 'train'" in str(err.value)
    assert err.value.field == "jobs.train.inputs.lr"


def test_parent_input_without_value_counts_as_unbound() -> None:
    job = pipeline({"t": StepSpec(component=comp("t", {"lr": NUM}), inputs={"lr": "${{parent.inputs.lr}}"})},
                   lr=None)
    with pytest.raises(InvalidInputError, match="required input 'lr'"):
        build_graph(job)


def test_optional_input_and_default_need_no_binding() -> None:
    c = ComponentSpec(
        name="t",
        command="run $[[--n ${{inputs.n}}]] --lr ${{inputs.lr}}",
        inputs={"n": InputSpec(type=IOType.INTEGER, optional=True),
                "lr": InputSpec(type=IOType.NUMBER, default=0.1)},
    )
    build_graph(pipeline({"t": StepSpec(component=c)}))


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"x": "${{parent.jobs.nope.outputs.out}}"}, "step 'nope', which does not exist"),
        ({"x": "${{parent.jobs.a.outputs.missing}}"}, "has no output 'missing'"),
        ({"x": "${{parent.inputs.absent}}"}, "the pipeline has no such input"),
        ({"y": 1}, "does not declare"),
    ],
)
def test_bad_bindings(inputs: dict[str, object], message: str) -> None:
    job = pipeline({
        "a": StepSpec(component=comp("a", {}), inputs={}),
        "b": StepSpec(component=comp("b", {"x": DATA}), inputs=inputs),  # type: ignore[arg-type]
    })
    with pytest.raises(InvalidInputError, match=message):
        build_graph(job)


def test_literal_cannot_feed_a_data_input_from_a_parent_literal() -> None:
    job = pipeline({"b": StepSpec(component=comp("b", {"x": DATA}), inputs={"x": "${{parent.inputs.n}}"})},
                   n=3)
    with pytest.raises(InvalidInputError, match="needs a path or data asset"):
        build_graph(job)


def test_uri_file_value_binds_to_uri_folder_input() -> None:
    job = pipeline(
        {"b": StepSpec(component=comp("b", {"x": DATA}), inputs={"x": "${{parent.inputs.f}}"})},
        f=DataInput(type=IOType.URI_FILE, path="azureml://datastores/workspaceblobstore/paths/f.csv"),
    )
    build_graph(job)


def test_command_referring_to_undeclared_input_is_rejected() -> None:
    c = ComponentSpec(name="t", command="run ${{inputs.ghost}}")
    with pytest.raises(InvalidInputError, match="ghost"):
        build_graph(pipeline({"t": StepSpec(component=c)}))
