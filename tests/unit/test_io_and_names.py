"""Literal coercion, type compatibility, names and safe paths."""

from __future__ import annotations

import re

import pytest

from lakeworks.core.io import InputSpec, IOType, coerce_literal, compatible
from lakeworks.core.jobs import JobStatus, check_transition
from lakeworks.core.names import generate_job_name, safe_relative_path, validate_name
from lakeworks.errors import InvalidInputError, StateError


@pytest.mark.parametrize(
    ("t", "given", "want"),
    [(IOType.NUMBER, "0.25", 0.25), (IOType.INTEGER, "3", 3), (IOType.INTEGER, 3.0, 3),
     (IOType.BOOLEAN, "True", True), (IOType.STRING, 5, "5")],
)
def test_coercion(t: IOType, given: object, want: object) -> None:
    assert coerce_literal(InputSpec(type=t), given, where="inputs.x") == want


@pytest.mark.parametrize(
    ("spec", "given"),
    [(InputSpec(type=IOType.INTEGER), "3.5"), (InputSpec(type=IOType.NUMBER), "fast"),
     (InputSpec(type=IOType.BOOLEAN), "maybe"), (InputSpec(type=IOType.NUMBER, max=1), 2),
     (InputSpec(type=IOType.STRING, enum=("a", "b")), "c")],
)
def test_coercion_errors_name_the_field(spec: InputSpec, given: object) -> None:
    with pytest.raises(InvalidInputError, match=r"inputs\.x"):
        coerce_literal(spec, given, where="inputs.x")


def test_compatibility() -> None:
    assert compatible(IOType.URI_FOLDER, IOType.URI_FILE)
    assert not compatible(IOType.NUMBER, IOType.URI_FILE)


def test_names() -> None:
    assert validate_name("credit-card") == "credit-card"
    for bad in ("", "../x", "a/b", "-x", "a b"):
        with pytest.raises(InvalidInputError):
            validate_name(bad)
    assert re.match(r"^[a-z]+_[a-z]+_[a-z0-9]{10}$", generate_job_name())


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", "C:/x", "a\\b", ""])
def test_paths_escaping_the_root_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        safe_relative_path(bad)


def test_status_transitions() -> None:
    check_transition("j", JobStatus.QUEUED, JobStatus.RUNNING)
    check_transition("j", JobStatus.FAILED, JobStatus.QUEUED)
    with pytest.raises(StateError, match="already finished"):
        check_transition("j", JobStatus.COMPLETED, JobStatus.RUNNING)
