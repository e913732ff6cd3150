"""The ``${{...}}`` expression language: command rendering, optional fragments, bindings.

Owns textual substitution of ``${{inputs.x}}``/``${{outputs.y}}`` in commands, the optional
``$[[ ... ]]`` fragments (dropped when an input inside has no value), pipeline bindings
(``${{parent.inputs.x}}``, ``${{parent.jobs.<step>.outputs.<o>}}``) and output path templates
(``${{name}}``, ``${{output_name}}``, ``${{default_datastore}}``). Pure string work.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lakeworks.errors import InvalidInputError

_REF = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_\-]*)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
_ANY_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_BINDING = re.compile(
    r"^\s*\$\{\{\s*parent\.(?:"
    r"(?P<pkind>inputs|outputs)\.(?P<pname>[A-Za-z_][A-Za-z0-9_\-]*)"
    r"|jobs\.(?P<step>[A-Za-z0-9_\-.]+)\.(?P<skind>inputs|outputs)\.(?P<sname>[A-Za-z_][A-Za-z0-9_\-]*)"
    r")\s*\}\}\s*$"
)


@dataclass(frozen=True)
class CommandRefs:
    """The names a command refers to, split by whether they sit inside ``$[[...]]``."""

    required_inputs: frozenset[str]
    optional_inputs: frozenset[str]
    outputs: frozenset[str]


def command_refs(command: str) -> CommandRefs:
    """List the inputs and outputs a command refers to.

    Example:
        >>> command_refs("python a.py ${{inputs.x}} $[[--y ${{inputs.y}}]]").optional_inputs
        frozenset({'y'})
    """
    optional: set[str] = set()
    for frag in _OPTIONAL.findall(command):
        optional.update(n for k, n in _REF.findall(frag) if k == "inputs")
    outside = _OPTIONAL.sub("", command)
    required = {n for k, n in _REF.findall(outside) if k == "inputs"}
    outputs = {n for k, n in _REF.findall(command) if k == "outputs"}
    return CommandRefs(frozenset(required), frozenset(optional - required), frozenset(outputs))


def render_command(
    command: str,
    inputs: Mapping[str, str | None],
    outputs: Mapping[str, str],
    *,
    quote: frozenset[str] = frozenset(),
) -> str:
    """Substitute input and output references in a command.

    Args:
        command: the component's command.
        inputs: input name -> rendered value, or None when the input has no value.
        outputs: output name -> the writable directory for that output.
        quote: input names whose values are paths and are shell-quoted when needed.

    Returns:
        The command to run through a shell.

    Raises:
        InvalidInputError: a required input has no value, or a name is not declared.

    Example:
        >>> render_command("run $[[--n ${{inputs.n}}]] ${{outputs.o}}", {"n": None}, {"o": "/t"})
        'run  /t'
    """

    def value_of(kind: str, name: str) -> str:
        if kind == "outputs":
            if name not in outputs:
                raise InvalidInputError(
                    f"the command refers to ${{{{outputs.{name}}}}}, but no output '{name}' "
                    "is declared",
                    field="command",
                    allowed=outputs.keys(),
                )
            path = outputs[name]
            return shlex.quote(path)
        if name not in inputs:
            raise InvalidInputError(
                f"the command refers to ${{{{inputs.{name}}}}}, but no input '{name}' is "
                "declared",
                field="command",
                allowed=inputs.keys(),
            )
        val = inputs[name]
        if val is None:
            raise InvalidInputError(
                f"input '{name}' has no value and no default; bind a value or wrap its "
                f"argument in $[[...]] and declare it optional",
                field=f"inputs.{name}",
            )
        return shlex.quote(val) if name in quote else val

    def fragment(m: re.Match[str]) -> str:
        body = m.group(1)
        names = [n for k, n in _REF.findall(body) if k == "inputs"]
        if any(inputs.get(n) is None for n in names):
            return ""
        return _REF.sub(lambda r: value_of(r.group(1), r.group(2)), body)

    text = _OPTIONAL.sub(fragment, command)
    return _REF.sub(lambda r: value_of(r.group(1), r.group(2)), text)


class BindingKind(StrEnum):
    """What a pipeline binding points at."""

    PARENT_INPUT = "parent_input"
    PARENT_OUTPUT = "parent_output"
    STEP_INPUT = "step_input"
    STEP_OUTPUT = "step_output"


@dataclass(frozen=True)
class Binding:
    """A parsed ``${{parent...}}`` binding."""

    kind: BindingKind
    name: str
    step: str | None = None

    def __str__(self) -> str:
        if self.kind is BindingKind.PARENT_INPUT:
            return f"${{{{parent.inputs.{self.name}}}}}"
        if self.kind is BindingKind.PARENT_OUTPUT:
            return f"${{{{parent.outputs.{self.name}}}}}"
        side = "inputs" if self.kind is BindingKind.STEP_INPUT else "outputs"
        return f"${{{{parent.jobs.{self.step}.{side}.{self.name}}}}}"


def parse_binding(value: object) -> Binding | None:
    """Parse a ``${{parent...}}`` binding, or return None for any other value.

    Raises:
        InvalidInputError: the value is a ``${{...}}`` expression of an unknown shape.

    Example:
        >>> parse_binding("${{parent.jobs.prep.outputs.train_data}}").step
        'prep'
    """
    if not isinstance(value, str) or "${{" not in value:
        return None
    m = _BINDING.match(value)
    if not m:
        raise InvalidInputError(
            f"{value!r} is not a valid binding; expected ${{{{parent.inputs.<name>}}}}, "
            "${{parent.outputs.<name>}} or ${{parent.jobs.<step>.outputs.<name>}}"
        )
    if m.group("pkind"):
        kind = (
            BindingKind.PARENT_INPUT if m.group("pkind") == "inputs" else BindingKind.PARENT_OUTPUT
        )
        return Binding(kind, m.group("pname"))
    kind = BindingKind.STEP_INPUT if m.group("skind") == "inputs" else BindingKind.STEP_OUTPUT
    return Binding(kind, m.group("sname"), m.group("step"))


def render_output_path(template: str, *, name: str, output_name: str, datastore: str) -> str:
    """Expand ``${{name}}``, ``${{output_name}}`` and ``${{default_datastore}}`` in a path."""
    values = {"name": name, "output_name": output_name, "default_datastore": datastore}

    def sub(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if key not in values:
            raise InvalidInputError(
                f"unknown expression ${{{{{key}}}}} in output path {template!r}",
                allowed=values.keys(),
            )
        return values[key]

    return _ANY_EXPR.sub(sub, template)
