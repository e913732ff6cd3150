"""What the format readers share during one read: progress, rejected rows, types named in options.

Owns the progress counter (bytes of the input read so far, of how many, and rows), the list of
rejected rows and the error raised for malformed rows when skipping was not asked for (naming
the file, up to ten 1-based line numbers and the count), and turning type names given in
options (``int64``, ``double``, ``string``, ``date``, ``timestamp``...) into Arrow types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakeworks.errors import InvalidInputError
from lakeworks.ports.lake import Reject

#: ``on_progress(bytes_read, total_bytes, rows_read)``; total_bytes is None when unknown
ProgressCallback = Callable[[int, "int | None", int], None]

MAX_LINES_NAMED = 10
_TEXT_LIMIT = 500
_TYPE_ALIASES = {
    "int": pa.int64(), "integer": pa.int64(), "bigint": pa.int64(), "long": pa.int64(),
    "smallint": pa.int16(), "tinyint": pa.int8(),
    "float": pa.float64(), "double": pa.float64(), "real": pa.float32(),
    "str": pa.string(), "text": pa.string(), "varchar": pa.string(),
    "bool": pa.bool_(), "boolean": pa.bool_(),
    "date": pa.date32(), "timestamp": pa.timestamp("us"), "datetime": pa.timestamp("us"),
}


def arrow_type(text: str, *, column: str) -> pa.DataType:
    """The Arrow type named by ``text`` for ``column`` (``int64``, ``double``, ``date``...)."""
    name = str(text).strip().lower()
    if name in _TYPE_ALIASES:
        return _TYPE_ALIASES[name]
    try:
        return pa.type_for_alias(name)
    except ValueError:
        raise InvalidInputError(
            f"type {text!r} of column '{column}' is not known; use int64, double, string, "
            "bool, date32 or timestamp[us] (or another Arrow type name)",
            field=f"column_types.{column}",
        ) from None


def arrow_types(value: Any) -> dict[str, pa.DataType]:
    """``{column: type}`` from a ``column_types`` option (a mapping of names to type names)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(
            "option 'column_types' must map column names to types, e.g. {'rentals': 'int64'}",
            field="column_types",
        )
    return {str(k): v if isinstance(v, pa.DataType) else arrow_type(v, column=str(k))
            for k, v in value.items()}


@dataclass
class Progress:
    """Bytes and rows read so far, reported through an optional callback after each batch."""

    total: int | None
    callback: ProgressCallback | None = None
    done_bytes: int = 0  # bytes of the files finished
    rows: int = 0

    def batch(self, rows: int, position: int) -> None:
        """A batch of ``rows`` was read; the current file is read up to ``position``."""
        self.rows += rows
        if self.callback is not None:
            read = self.done_bytes + max(position, 0)
            if self.total is not None:
                read = min(read, self.total)
            self.callback(read, self.total, self.rows)

    def file_done(self, size: int | None, position: int) -> None:
        self.done_bytes += size if size is not None else max(position, 0)
        if self.callback is not None:
            done = self.done_bytes if self.total is None else min(self.done_bytes, self.total)
            self.callback(done, self.total, self.rows)


@dataclass
class BadRows:
    """Malformed rows met in one file: kept as rejects, or raised at the end of the file."""

    url: str
    skip: bool
    rejects: list[Reject]
    prefix: str = ""
    found: list[Reject] = field(default_factory=list)
    #: finds the malformed rows again with their line numbers, when the first pass (a
    #: multi-threaded one) could not number them
    locate: Callable[[], list[Reject]] | None = None

    def add(self, line: int | None, text: str, reason: str) -> None:
        reject = Reject(line=line if line is not None else 0,
                        text=text[:_TEXT_LIMIT], reason=self.prefix + reason)
        self.found.append(reject)
        if self.skip:
            self.rejects.append(reject)

    def check(self) -> None:
        """Raise for the malformed rows found, unless they are being skipped.

        Raises:
            InvalidInputError: naming the file, the first line numbers and the count.
        """
        if self.skip or not self.found:
            return
        if self.locate is not None and any(r.line == 0 for r in self.found):
            self.found = self.locate() or self.found
        count = len(self.found)
        lines = ", ".join(str(r.line) for r in self.found[:MAX_LINES_NAMED])
        more = f" (and {count - MAX_LINES_NAMED} more)" if count > MAX_LINES_NAMED else ""
        raise InvalidInputError(
            f"{count} malformed row{'s' if count != 1 else ''} at line{'s' if count != 1 else ''}"
            f" {lines}{more}: {self.found[0].reason}. Fix the file, or load it with "
            "skip_bad_rows=True (CLI: --skip-bad-rows) to leave such rows out",
            file=self.url,
        )


def primed(stream: Iterator[Any]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Split a stream whose first item is its schema into (schema, batches)."""
    schema = next(stream)
    if not isinstance(schema, pa.Schema):  # pragma: no cover - a reader bug
        raise TypeError("a reader stream must start with its schema")
    return schema, stream
