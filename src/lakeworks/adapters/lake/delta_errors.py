"""delta-rs exceptions as Lakeworks errors, and delta-rs history values as plain data.

Owns ``delta_errors``, the one place where ``deltalake``'s exceptions (table not found,
missing data files, commit conflicts, schema mismatches, protocol features) become
``NotFoundError``, ``ConflictError``, ``InvalidInputError`` or ``BackendError`` with messages
naming the table's location and what to do next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from deltalake.exceptions import (
    CommitFailedError,
    DeltaError,
    DeltaProtocolError,
    SchemaMismatchError,
    TableNotFoundError,
)

from lakeworks.errors import (
    BackendError,
    ConflictError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
)

_DUPLICATE_SOURCE = "multiple source rows"


@contextmanager
def delta_errors(url: str, action: str) -> Iterator[None]:
    """Translate deltalake and file errors raised while doing ``action`` on the table at ``url``."""
    try:
        yield
    except LakeworksError:
        raise
    except TableNotFoundError as exc:
        raise NotFoundError(
            f"no Delta table at '{url}' (no _delta_log found) while trying to {action}: its files "
            "were removed or moved, or it was never written. Restore the folder, or drop the "
            f"table from the catalog and write it again ({_first_line(exc)})"
        ) from None
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"a data file of the Delta table at '{url}' is missing while trying to {action}: "
            f"{_first_line(exc)}. Files were deleted outside Lakeworks; restore them, or drop "
            "the table and write it again"
        ) from None
    except CommitFailedError as exc:
        raise ConflictError(
            f"could not commit to the Delta table at '{url}' ({action}): {_first_line(exc)}. "
            "Other writers changed it at the same time; try again"
        ) from exc
    except SchemaMismatchError as exc:
        raise InvalidInputError(
            f"the data does not match the schema of the Delta table at '{url}': "
            f"{_first_line(exc)}"
        ) from None
    except DeltaProtocolError as exc:
        raise BackendError(
            f"the Delta table at '{url}' uses features delta-rs cannot {action}: "
            f"{_first_line(exc)}"
        ) from exc
    except DeltaError as exc:
        text = str(exc)
        if "already exists" in text:
            raise ConflictError(
                f"a Delta table already exists at '{url}'; append to it, overwrite it, or pick "
                "another location"
            ) from None
        if _DUPLICATE_SOURCE in text:
            raise InvalidInputError(
                "the merge data has several rows with the same key matching one table row; "
                f"deduplicate it on the key columns first ({_first_line(exc)})"
            ) from None
        if "not found" in text.lower() and "object" in text.lower():
            raise NotFoundError(
                f"a file of the Delta table at '{url}' is missing while trying to {action}: "
                f"{_first_line(exc)}. Restore it, or drop the table and write it again"
            ) from None
        raise BackendError(f"delta-rs failed to {action} the table at '{url}': {text}") from exc
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(f"cannot {action} the table at '{url}': {exc}") from None
    except OSError as exc:
        raise BackendError(f"storage failed while trying to {action} the table at '{url}': "
                           f"{exc}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def plain_values(values: Any) -> dict[str, Any]:
    """Operation parameters as plain values (delta-rs gives JSON text for some)."""
    result: dict[str, Any] = {}
    for key, value in dict(values).items():
        if isinstance(value, str) and value.startswith(("[", "{")):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        result[str(key)] = value
    return result
