"""Command rendering, optional fragments and pipeline bindings."""

from __future__ import annotations

import pytest

from lakeworks.core.expressions import (
    BindingKind,
    command_refs,
    parse_binding,
    render_command,
    render_output_path,
)
from lakeworks.errors import InvalidInputError


def test_inputs_and_outputs_are_substituted_textually() -> None:
    cmd = "python t.py --lr ${{inputs.lr}} --data ${{ inputs.data }} --out ${{outputs.model}}"
    out = render_command(cmd, {"lr": "0.05", "data": "/d/x.csv"}, {"model": "/o/m"})
    assert out == "python t.py --lr 0.05 --data /d/x.csv --out /o/m"


def test_paths_with_spaces_are_quoted_for_the_shell() -> None:
    out = render_command("cat ${{inputs.d}}", {"d": "/a b/c"}, {}, quote=frozenset({"d"}))
    assert out == "cat '/a b/c'"


def test_optional_fragment_dropped_without_value_and_kept_with_one() -> None:
    cmd = "run $[[--epochs ${{inputs.epochs}}]] done"
    assert render_command(cmd, {"epochs": None}, {}) == "run  done"
    assert render_command(cmd, {"epochs": "3"}, {}) == "run --epochs 3 done"


def test_required_input_without_value_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="input 'lr' has no value"):
        render_command("t ${{inputs.lr}}", {"lr": None}, {})


def test_undeclared_reference_lists_declared_names() -> None:
    with pytest.raises(InvalidInputError) as err:
        render_command("t ${{inputs.rate}}", {"lr": "1"}, {})
    assert err.value.allowed == ["lr"]


def test_command_refs_split_required_and_optional() -> None:
    refs = command_refs("a ${{inputs.x}} $[[--y ${{inputs.y}}]] ${{outputs.o}}")
    assert refs.required_inputs == {"x"}
    assert refs.optional_inputs == {"y"}
    assert refs.outputs == {"o"}


@pytest.mark.parametrize(
    ("text", "kind", "name", "step"),
    [
        ("${{parent.inputs.data}}", BindingKind.PARENT_INPUT, "data", None),
        ("${{parent.outputs.model}}", BindingKind.PARENT_OUTPUT, "model", None),
        ("${{parent.jobs.prep.outputs.train_data}}", BindingKind.STEP_OUTPUT, "train_data", "prep"),
        ("${{ parent.jobs.prep.inputs.ratio }}", BindingKind.STEP_INPUT, "ratio", "prep"),
    ],
)
def test_bindings(text: str, kind: BindingKind, name: str, step: str | None) -> None:
    b = parse_binding(text)
    assert b is not None and (b.kind, b.name, b.step) == (kind, name, step)
    assert parse_binding(str(b)) == b


def test_non_bindings_and_malformed_bindings() -> None:
    assert parse_binding("plain") is None
    assert parse_binding(0.5) is None
    with pytest.raises(InvalidInputError):
        parse_binding("${{parent.jobz.x.outputs.y}}")


def test_output_path_templates() -> None:
    out = render_output_path(
        "azureml://datastores/${{default_datastore}}/paths/${{name}}/${{output_name}}",
        name="job1", output_name="model", datastore="workspaceblobstore",
    )
    assert out == "azureml://datastores/workspaceblobstore/paths/job1/model"
    with pytest.raises(InvalidInputError, match="unknown expression"):
        render_output_path("${{nope}}", name="a", output_name="b", datastore="c")
