"""Azure ML's exception names, as ``azure.ai.ml.exceptions``, mapped onto Lakeworks' hierarchy."""

from __future__ import annotations

from lakeworks.errors import InvalidInputError, JobFailedError, NotFoundError

ValidationException = InvalidInputError
JobException = JobFailedError
ResourceNotFoundError = NotFoundError

__all__ = ["JobException", "ResourceNotFoundError", "ValidationException"]
