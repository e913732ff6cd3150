"""CSV files as a stream of Arrow batches: options, type inference, malformed rows, progress.

Owns reading one or more CSV files into Arrow: a small local file at once on all cores
(``WHOLE_FILE_BYTES``), anything else with pyarrow's streaming reader (blocks of
``block_size`` bytes). Parsing uses threads unless malformed rows are kept as rejects, which
needs one thread for pyarrow to number them; a file found malformed (or holding a value that
does not fit) on the threaded path is read again on one thread to name the lines:

- types are inferred from the first block: integers as ``int64``, decimals as ``double``,
  ``YYYY-MM-DD`` as ``date32``, ``true``/``false`` as ``bool``, ISO date-times as timestamps,
  anything else as ``string``; a column empty in the whole first block is read as ``string``;
  empty fields are nulls. ``column_types`` overrides inference per column.
- the files of a folder must have the first file's columns; they are read with its types.
- rows with too few or too many fields go through ``BadRows`` (rejected or reported).
- a later value that does not fit the inferred type is an error naming the file, line,
  column and value, with the option that fixes it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from lakeworks.adapters.lake.reading import BadRows, Progress, arrow_types
from lakeworks.adapters.lake.sources import SourceFile
from lakeworks.errors import InvalidInputError
from lakeworks.ports.lake import Reject

CSV_OPTIONS = frozenset({
    "delimiter", "sep", "quote_char", "escape_char", "newlines_in_values", "header",
    "column_names", "column_types", "skip_rows", "encoding", "null_values", "true_values",
    "false_values", "timestamp_formats", "strings_can_be_null",
})
_CONVERSION = re.compile(
    r"In CSV column #(\d+): Row #(\d+): CSV conversion error to ([^:]+): invalid value '(.*)'",
    re.DOTALL,
)


def _flag(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _strings(options: Mapping[str, Any], key: str) -> list[str] | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [v for v in value.split(",")]
    return [str(v) for v in value]


class CsvSettings:
    """The pyarrow options for one CSV read, from Lakeworks' flat options."""

    def __init__(self, options: Mapping[str, Any], block_size: int) -> None:
        self.options = options
        self.block_size = block_size
        self.header = _flag(options, "header", True)
        self.names = _strings(options, "column_names")
        self.types = arrow_types(options.get("column_types"))
        delimiter = options.get("delimiter", options.get("sep"))
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise InvalidInputError(
                f"delimiter {delimiter!r} must be one character (use '\\t' for tabs)",
                field="delimiter",
            )
        self.delimiter: str | None = delimiter

    def read_options(self, *, threads: bool = False) -> pacsv.ReadOptions:
        skip = int(self.options.get("skip_rows", 0))
        if self.names is not None and self.header:
            skip += 1  # the header row is replaced by the names given
        return pacsv.ReadOptions(
            use_threads=threads,
            block_size=self.block_size,
            skip_rows=skip,
            column_names=self.names,
            autogenerate_column_names=not self.header and self.names is None,
            encoding=str(self.options.get("encoding", "utf8")),
        )

    def parse_options(self, file: SourceFile, handler: Callable[[Any], str]
                      ) -> pacsv.ParseOptions:
        delimiter = self.delimiter or ("\t" if file.is_tsv else ",")
        quote = self.options.get("quote_char", '"')
        return pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=quote if quote else False,
            escape_char=self.options.get("escape_char") or False,
            newlines_in_values=_flag(self.options, "newlines_in_values", False),
            invalid_row_handler=handler,
        )

    def convert_options(self, types: Mapping[str, pa.DataType]) -> pacsv.ConvertOptions:
        kwargs: dict[str, Any] = {
            "column_types": dict(types),
            "strings_can_be_null": _flag(self.options, "strings_can_be_null", True),
        }
        for key, target in (("null_values", "null_values"), ("true_values", "true_values"),
                            ("false_values", "false_values"),
                            ("timestamp_formats", "timestamp_parsers")):
            values = _strings(self.options, key)
            if values is not None:
                kwargs[target] = values
        return pacsv.ConvertOptions(**kwargs)


def _handler(bad: BadRows) -> Callable[[Any], str]:
    def handle(row: Any) -> str:
        bad.add(row.number, row.text,
                f"expected {row.expected_columns} fields, found {row.actual_columns}")
        return "skip"

    return handle


def _conversion_error(exc: pa.ArrowInvalid, file: SourceFile, names: Sequence[str]
                      ) -> InvalidInputError:
    match = _CONVERSION.search(str(exc))
    if match is None:
        return InvalidInputError(f"cannot read the CSV file: {exc}", file=file.url)
    index, line, target, value = match.groups()
    column = names[int(index)] if int(index) < len(names) else f"#{index}"
    wider = "double" if target.startswith("int") else "string"
    return InvalidInputError(
        f"column '{column}' holds {value!r}, which is not {target} (the type inferred from the "
        f"first rows). Give the column's type: options={{'column_types': {{'{column}': "
        f"'{wider}'}}}} (CLI: --column-type {column}={wider})",
        file=file.url, line=int(line),
    )


def _open(stream: pa.NativeFile, file: SourceFile, settings: CsvSettings,
          types: Mapping[str, pa.DataType], bad: BadRows, *, threads: bool = False
          ) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(
            stream,
            read_options=settings.read_options(threads=threads),
            parse_options=settings.parse_options(file, _handler(bad)),
            convert_options=settings.convert_options(types),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise InvalidInputError("the CSV file is empty (no header row)",
                                    file=file.url) from None
        raise _conversion_error(exc, file, []) from None


def _locator(file: SourceFile, settings: CsvSettings, types: Mapping[str, pa.DataType],
             prefix: str) -> Callable[[], list[Reject]]:
    """Reads ``file`` again on one thread, to number its malformed rows."""

    def locate() -> list[Reject]:
        again = BadRows(file.url, True, [], prefix=prefix)
        with file.open() as (stream, _raw):
            reader = _open(stream, file, settings, types, again)
            names = reader.schema.names
            try:
                for _batch in reader:
                    pass
            except pa.ArrowInvalid as exc:  # a value that does not fit, now with its line
                raise _conversion_error(exc, file, names) from None
        return again.found

    return locate


def _null_columns(schema: pa.Schema) -> dict[str, pa.DataType]:
    """Columns empty in the whole first block (inferred as null), to be read as strings."""
    return {f.name: pa.string() for f in schema if pa.types.is_null(f.type)}


def _batches(reader: pacsv.CSVStreamingReader, file: SourceFile, schema: pa.Schema,
             raw: pa.NativeFile, progress: Progress, bad: BadRows, block_size: int
             ) -> Iterator[pa.RecordBatch]:
    # One batch per block: the bytes parsed so far are the blocks done (the raw position
    # runs ahead, as the reader reads ahead while it parses).
    blocks = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            if "Row #" not in str(exc) and bad.locate is not None:
                bad.locate()  # read on one thread: raises the error with its line number
            raise _conversion_error(exc, file, schema.names) from None
        if batch.schema != schema:
            batch = batch.cast(schema)
        blocks += 1
        progress.batch(batch.num_rows, min(raw.tell(), blocks * block_size))
        yield batch


#: A single local, uncompressed file up to this size is parsed at once, on all cores, and its
#: types inferred from the whole file; larger ones (or folders, remote or compressed files)
#: stream block by block.
WHOLE_FILE_BYTES = 256 << 20


def _raise_on_bad_row(row: Any) -> str:
    return "error"


def _read_whole(file: SourceFile, settings: CsvSettings, limit: int) -> pa.Table | None:
    """The whole file parsed at once, or None to take the streaming path (a malformed file,
    or one that is not a small local plain file; the streaming path names the bad lines)."""
    if file.fs is not None or file.compression or file.size is None or (
        file.size > limit
    ):
        return None
    try:
        table = pacsv.read_csv(
            file.url,
            read_options=settings.read_options(threads=True),
            parse_options=settings.parse_options(file, _raise_on_bad_row),
            convert_options=settings.convert_options(settings.types),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    nulls = _null_columns(table.schema)
    return table.cast(pa.schema([
        pa.field(f.name, nulls.get(f.name, f.type)) for f in table.schema
    ])) if nulls else table


def csv_stream(
    files: Sequence[SourceFile],
    options: Mapping[str, Any],
    *,
    skip_bad_rows: bool,
    rejects: list[Any],
    progress: Progress,
    block_size: int,
    whole_file_bytes: int = WHOLE_FILE_BYTES,
) -> Iterator[Any]:
    """The schema, then the batches of every file in ``files`` (one schema for all).

    The first file's reader infers the types from its first block and goes on reading;
    it is opened again only when a column of that block is empty (to read it as strings).
    """
    settings = CsvSettings(options, block_size)
    if len(files) == 1 and not skip_bad_rows:
        whole = _read_whole(files[0], settings, whole_file_bytes)
        if whole is not None:
            yield whole.schema
            for batch in whole.to_batches(max_chunksize=1 << 17):
                progress.batch(batch.num_rows, files[0].size or 0)
                yield batch
            progress.file_done(files[0].size, files[0].size or 0)
            return
    schema: pa.Schema | None = None
    several = len(files) > 1
    # Parsing with threads loses line numbers: used unless bad rows are kept as rejects; if
    # the file turns out malformed, it is read again on one thread to number them.
    threads = not skip_bad_rows
    for file in files:
        bad = BadRows(file.url, skip_bad_rows, rejects,
                      prefix=f"{file.url}: " if several else "")
        with contextlib.ExitStack() as stack:
            stream, raw = stack.enter_context(file.open())
            types = settings.types if schema is None else {f.name: f.type for f in schema}
            bad.locate = _locator(file, settings, types, bad.prefix)
            reader = _open(stream, file, settings, types, bad, threads=threads)
            if schema is None:
                nulls = _null_columns(reader.schema)
                if nulls:
                    stack.close()
                    bad.found.clear()
                    bad.rejects.clear()
                    stream, raw = stack.enter_context(file.open())
                    types = {**settings.types, **nulls}
                    bad.locate = _locator(file, settings, types, bad.prefix)
                    reader = _open(stream, file, settings, types, bad, threads=threads)
                schema = reader.schema
                yield schema
            elif reader.schema.names != schema.names:
                raise InvalidInputError(
                    f"the columns ({', '.join(reader.schema.names)}) differ from those of the "
                    f"first file {files[0].url} ({', '.join(schema.names)}); files loaded "
                    "together must have the same columns",
                    file=file.url,
                )
            yield from _batches(reader, file, schema, raw, progress, bad, block_size)
            bad.check()
            progress.file_done(file.size, raw.tell())
