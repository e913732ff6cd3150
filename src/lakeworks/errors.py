"""The one exception hierarchy of Lakeworks; nothing else defines public exceptions.

Every error says what failed, where (file, field, column, value), what was expected and how
to fix it. Classes are named for what the caller does next::

    LakeworksError                      (code "lakeworks_error", HTTP 500)
    ├── InvalidInputError, ValueError   fix the input: bad YAML, field, value, reference (400)
    ├── NotFoundError, LookupError      create it first or fix the name (404)
    ├── ConflictError                   it exists with other content; pick a new version (409)
    ├── StateError                      illegal in the current state (status transition) (409)
    ├── JobFailedError                  a job ended Failed; the message holds the log tail (500)
    ├── BackendError                    a store, server or subprocess failed underneath (502)
    └── MissingDependencyError, ImportError  install the named extra (501)

Adapters translate foreign exceptions at their edge into these classes (``raise ... from exc``).
The CLI prints ``str(error)`` without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable


class LakeworksError(Exception):
    """Root of every error Lakeworks raises on purpose."""

    code: str = "lakeworks_error"
    http_status: int = 500


class InvalidInputError(LakeworksError, ValueError):
    """The caller gave something malformed: a file, field, value or reference.

    Args:
        message: what is wrong and what was expected.
        file: the file the input came from, if any.
        line: the 1-based line in ``file``, if known.
        field: the dotted field path (``jobs.train.inputs.lr``), if any.
        allowed: the values that would have been accepted, if a closed set.
    """

    code = "invalid_input"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        allowed: Iterable[str] | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.allowed = sorted(allowed) if allowed is not None else None
        self.detail = message
        super().__init__(self._render(message))

    def _render(self, message: str) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.field:
            where = f"{where}: field '{self.field}'" if where else f"field '{self.field}'"
        text = f"{where}: {message}" if where else message
        if self.allowed:
            text += f" (allowed: {', '.join(self.allowed)})"
        return text


class NotFoundError(LakeworksError, LookupError):
    """The named asset, job, workspace or file does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(LakeworksError):
    """The thing exists already with different content (versions are immutable)."""

    code = "conflict"
    http_status = 409


class StateError(LakeworksError):
    """The operation is illegal in the object's current state."""

    code = "illegal_state"
    http_status = 409


class JobFailedError(LakeworksError):
    """A job ended in status Failed; the message names the failed step and its log tail."""

    code = "job_failed"
    http_status = 500


class BackendError(LakeworksError):
    """A store, server or subprocess underneath Lakeworks failed."""

    code = "backend_error"
    http_status = 502


class MissingDependencyError(LakeworksError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    code = "missing_dependency"
    http_status = 501

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install 'lakeworks[{extra}]'"
        )


__all__ = [
    "BackendError",
    "ConflictError",
    "InvalidInputError",
    "JobFailedError",
    "LakeworksError",
    "MissingDependencyError",
    "NotFoundError",
    "StateError",
]
