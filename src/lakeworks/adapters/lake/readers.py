"""``ArrowFileReader``, the ``FileReader`` port: CSV, Parquet and JSON lines into streamed Arrow.

Owns choosing the format reader (``csv_reader.py``, ``json_reader.py``, Parquet here), the
options each accepts (an unknown option is an error naming the allowed ones), progress
reporting, and the stream handed back: a ``RecordBatchReader`` read lazily, so a large file
never sits in memory whole and a progress callback sees bytes and rows as the consumer (a
Delta write) pulls batches. Rejected rows are added to ``ReadResult.rejects`` *as the stream
is read*: look at them after consuming ``data``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakeworks.adapters.lake.csv_reader import CSV_OPTIONS, WHOLE_FILE_BYTES, csv_stream
from lakeworks.adapters.lake.json_reader import JSON_OPTIONS, json_stream
from lakeworks.adapters.lake.reading import Progress, ProgressCallback, primed
from lakeworks.adapters.lake.sources import SourceFile, find_sources
from lakeworks.errors import InvalidInputError
from lakeworks.ports.lake import ReadResult, Reject, StorageLocation

PARQUET_OPTIONS = frozenset({"columns", "batch_size"})
_ALLOWED = {"csv": CSV_OPTIONS, "json": JSON_OPTIONS, "parquet": PARQUET_OPTIONS}
_DEFAULT_BLOCK = 16 << 20
_PARQUET_BATCH = 128 * 1024


def _parquet_stream(
    files: Sequence[SourceFile],
    options: Mapping[str, Any],
    *,
    skip_bad_rows: bool,
    rejects: list[Reject],
    progress: Progress,
    block_size: int,
) -> Iterator[Any]:
    """The schema, then the row groups of every Parquet file in ``files`` as batches."""
    del skip_bad_rows, rejects, block_size  # Parquet rows are never malformed one by one
    columns = options.get("columns")
    batch_size = int(options.get("batch_size", _PARQUET_BATCH))
    schema: pa.Schema | None = None
    for file in files:
        if file.compression:
            raise InvalidInputError(
                "compressed Parquet files cannot be read; Parquet compresses inside the file",
                file=file.url,
            )
        with file.open() as (stream, _raw):
            try:
                parquet = pq.ParquetFile(stream)
                found = parquet.schema_arrow
                if columns is not None:
                    found = pa.schema([found.field(c) for c in columns])
            except (pa.ArrowInvalid, KeyError) as exc:
                raise InvalidInputError(f"not a readable Parquet file: {exc}",
                                        file=file.url) from None
            if schema is None:
                schema = found
                yield schema
            elif found.names != schema.names:
                raise InvalidInputError(
                    f"the columns ({', '.join(found.names)}) differ from those of the first "
                    f"file {files[0].url} ({', '.join(schema.names)}); files loaded together "
                    "must have the same columns",
                    file=file.url,
                )
            rows = max(parquet.metadata.num_rows, 1)
            done = 0
            for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                if batch.schema != schema:
                    try:
                        batch = batch.cast(schema)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                        raise InvalidInputError(
                            f"types differ from the first file's: {exc}", file=file.url
                        ) from None
                done += batch.num_rows
                progress.batch(batch.num_rows, int((file.size or 0) * done / rows))
                yield batch
            progress.file_done(file.size, file.size or 0)


_STREAMS = {"csv": csv_stream, "json": json_stream, "parquet": _parquet_stream}


class ArrowFileReader:
    """The ``FileReader`` port on pyarrow (CSV, Parquet, JSON lines; files or folders).

    Args:
        on_progress: called as ``on_progress(bytes_read, total_bytes, rows_read)`` after each
            batch and at the end of each file.
        block_size: bytes parsed per CSV/JSON block; types are inferred from the first block.
        whole_file_bytes: a single local, uncompressed CSV file up to this size is parsed at
            once on all cores, with types inferred from the whole file.

    Options (``read(options=...)``):
        csv: ``delimiter`` (``sep``), ``quote_char``, ``escape_char``, ``newlines_in_values``,
        ``header`` (False: columns f0, f1...), ``column_names``, ``column_types``
        (``{"name": "double"}``), ``skip_rows``, ``encoding``, ``null_values``,
        ``true_values``, ``false_values``, ``timestamp_formats``, ``strings_can_be_null``.
        json: ``column_types``, ``encoding``. parquet: ``columns``, ``batch_size``.

    Example:
        >>> result = ArrowFileReader().read(StorageLocation("bikes.csv"))  # doctest: +SKIP
        >>> result.data.read_all().num_rows  # doctest: +SKIP
        731
    """

    def __init__(self, *, on_progress: ProgressCallback | None = None,
                 block_size: int = _DEFAULT_BLOCK,
                 whole_file_bytes: int = WHOLE_FILE_BYTES) -> None:
        self._on_progress = on_progress
        self._block_size = block_size
        self._whole_file_bytes = whole_file_bytes

    def read(
        self,
        location: StorageLocation,
        *,
        format: str | None = None,
        options: Mapping[str, Any] | None = None,
        skip_bad_rows: bool = False,
    ) -> ReadResult:
        """Read a file (or folder of files) as a stream; see ``FileReader.read``.

        Raises:
            NotFoundError: nothing at ``location``.
            InvalidInputError: an unknown format or option, an empty file; malformed rows
                (when not skipped) and values that do not fit are raised while ``data`` is
                read, naming the file and line numbers.
        """
        files, fmt = find_sources(location, format)
        given = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(given) - _ALLOWED[fmt])
        if unknown:
            raise InvalidInputError(
                f"option(s) {', '.join(unknown)} do not apply to {fmt} files",
                field=unknown[0], allowed=_ALLOWED[fmt],
            )
        sizes = [f.size for f in files]
        total = sum(s for s in sizes if s is not None) if None not in sizes else None
        progress = Progress(total, self._on_progress)
        rejects: list[Reject] = []
        make = _STREAMS[fmt]
        if fmt == "csv":
            make = functools.partial(csv_stream, whole_file_bytes=self._whole_file_bytes)
        stream = make(files, given, skip_bad_rows=skip_bad_rows, rejects=rejects,
                      progress=progress, block_size=self._block_size)
        try:
            schema, batches = primed(stream)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {location.url}: {exc}") from None
        return ReadResult(data=pa.RecordBatchReader.from_batches(schema, batches),
                          rejects=rejects)
