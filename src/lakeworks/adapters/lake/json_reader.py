"""JSON-lines files as a stream of Arrow batches, with malformed lines found by number.

Owns reading newline-delimited JSON objects: pyarrow's streaming reader on the whole file
when it is well formed (types inferred from the first block; ``column_types`` overrides), and
a line-by-line path that checks each line with ``json.loads`` when bad lines must be skipped,
or located after pyarrow reported a parse error (pyarrow does not give file line numbers).
Fields first seen after the first block are an error naming the field.
"""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from lakeworks.adapters.lake.reading import BadRows, Progress, arrow_types
from lakeworks.adapters.lake.sources import SourceFile
from lakeworks.errors import InvalidInputError

JSON_OPTIONS = frozenset({"column_types", "encoding"})
_CHUNK_LINES = 50_000


def _parse_options(explicit: pa.Schema | None) -> pajson.ParseOptions:
    return pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")


def _bad_line(text: str) -> str | None:
    """Why a line is not one JSON object (None when it is)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return f"not a JSON object (a {type(value).__name__})"
    return None


def _lines(file: SourceFile, encoding: str) -> Iterator[tuple[int, str, int]]:
    """``(line number, text, raw position)`` of each non-blank line."""
    with file.open() as (stream, raw):
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding=encoding)
        for number, line in enumerate(text, start=1):
            if line.strip():
                yield number, line, raw.tell()


def _checked_chunks(file: SourceFile, bad: BadRows, encoding: str
                    ) -> Iterator[tuple[bytes, int]]:
    """Well-formed lines, joined in chunks, with the raw position after each chunk."""
    good: list[str] = []
    position = 0
    for number, line, position in _lines(file, encoding):
        reason = _bad_line(line)
        if reason is not None:
            bad.add(number, line.rstrip("\n"), reason)
            continue
        good.append(line if line.endswith("\n") else line + "\n")
        if len(good) >= _CHUNK_LINES:
            yield "".join(good).encode(), position
            good = []
    if good:
        yield "".join(good).encode(), position


def _conform(batch: pa.RecordBatch, schema: pa.Schema, file: SourceFile) -> pa.RecordBatch:
    extra = [n for n in batch.schema.names if n not in schema.names]
    if extra:
        raise InvalidInputError(
            f"field(s) {extra} first appear after the first rows, so they are not in the "
            f"inferred columns ({', '.join(schema.names)}); declare them with "
            "options={'column_types': {...}}",
            file=file.url,
        )
    arrays = [batch.column(n) if n in batch.schema.names else pa.nulls(batch.num_rows, f.type)
              for n, f in zip(schema.names, schema, strict=True)]
    try:
        return pa.RecordBatch.from_arrays(
            [a.cast(f.type) if a.type != f.type else a for a, f in zip(arrays, schema,
                                                                          strict=True)],
            schema=schema,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInputError(f"values do not fit the inferred columns: {exc}",
                                file=file.url) from None


def _first_schema(file: SourceFile, explicit: pa.Schema | None, encoding: str) -> pa.Schema:
    with file.open() as (stream, _raw):
        try:
            reader = pajson.open_json(
                stream,
                read_options=pajson.ReadOptions(use_threads=False),
                parse_options=_parse_options(explicit),
            )
            schema = reader.schema
        except pa.ArrowInvalid:
            schema = None
    if schema is None:  # the first block has bad lines: infer from the good ones
        chunk = next(_checked_chunks(file, BadRows(file.url, True, []), encoding), None)
        if chunk is None:
            raise InvalidInputError("the file holds no JSON objects", file=file.url)
        schema = pajson.read_json(pa.BufferReader(chunk[0]),
                                  parse_options=_parse_options(explicit)).schema
    return pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type)
                      for f in schema])


def json_stream(
    files: Sequence[SourceFile],
    options: Mapping[str, Any],
    *,
    skip_bad_rows: bool,
    rejects: list[Any],
    progress: Progress,
    block_size: int,
) -> Iterator[Any]:
    """The schema, then the batches of every JSON-lines file in ``files``."""
    encoding = str(options.get("encoding", "utf-8"))
    types = arrow_types(options.get("column_types"))
    explicit = pa.schema(list(types.items())) if types else None
    schema = _first_schema(files[0], explicit, encoding)
    yield schema
    several = len(files) > 1
    for file in files:
        bad = BadRows(file.url, skip_bad_rows, rejects,
                      prefix=f"{file.url}: " if several else "")
        if not skip_bad_rows:
            position = yield from _fast(file, schema, progress, block_size)
            if position is not None:
                progress.file_done(file.size, position)
                continue
        position = 0
        for chunk, position in _checked_chunks(file, bad, encoding):
            table = pajson.read_json(pa.BufferReader(chunk), parse_options=_parse_options(schema))
            for batch in table.to_batches():
                batch = _conform(batch, schema, file)
                progress.batch(batch.num_rows, position)
                yield batch
        bad.check()
        progress.file_done(file.size, position)


def _fast(file: SourceFile, schema: pa.Schema, progress: Progress, block_size: int
          ) -> Generator[pa.RecordBatch, None, int | None]:
    """pyarrow's streaming reader over a well-formed file; returns the end position, or None
    if the file turned out malformed before anything was yielded (then it is re-read line by
    line to name the bad lines)."""
    with file.open() as (stream, raw):
        try:
            reader = pajson.open_json(
                stream,
                read_options=pajson.ReadOptions(use_threads=False, block_size=block_size),
                parse_options=_parse_options(schema),
            )
        except pa.ArrowInvalid:
            return None
        yielded = False
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return int(raw.tell())
            except pa.ArrowInvalid as exc:
                if not yielded:
                    return None
                _raise_bad_lines(file)
                raise InvalidInputError(f"cannot read the JSON file: {exc}",
                                        file=file.url) from None
            batch = _conform(batch, schema, file)
            progress.batch(batch.num_rows, raw.tell())
            yielded = True
            yield batch


def _raise_bad_lines(file: SourceFile) -> None:
    bad = BadRows(file.url, False, [])
    for _ in _checked_chunks(file, bad, "utf-8"):
        pass
    bad.check()
