"""The ``deltars`` PySpark data source: Delta Lake tables read and written through delta-rs.

Owns the Spark side of Delta without the delta-spark jar (which cannot be had offline):
the schema from the Delta log (Arrow types mapped to Spark's, timestamps in UTC), a reader
with one partition per live data file of one snapshot (``versionAsOf``/``timestampAsOf``
time travel, partition columns re-attached from the log), and an Arrow writer whose tasks
each write Parquet files and whose driver-side ``commit`` makes ONE Delta transaction
(append or overwrite, creating the table when missing) while ``abort`` deletes the files.

Options: ``path`` (a folder or ``s3://``/``abfss://`` URL), ``versionAsOf``,
``timestampAsOf``, ``overwriteSchema`` (an overwrite may change the schema), ``partitionBy``
(comma-separated, when a write creates the table), and storage options (see ``storage.py``).

Spark hands a Python data source no options at all when it reads or writes a table of its
catalog, so ``bind`` makes a per-table subclass that carries its location (registered under
its own provider name by ``tables.py``). It must not import services: a ``CommitHook`` given
by the entry-point layer is how a commit reaches the Lakeworks catalog.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, QueryBuilder, Schema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

from lakeworks.adapters.spark.datafiles import (
    FileAdd,
    conform,
    delta_schema,
    delta_type,
    files_named,
    write_files,
)
from lakeworks.adapters.spark.storage import (
    TableLocation,
    flag_option,
    location_from_options,
    partition_option,
    version_option,
)
from lakeworks.core.lake import ColumnSpec, append_mismatch
from lakeworks.errors import BackendError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

FORMAT = "deltars"
# reader features whose tables cannot be read file by file (rows deleted by vectors,
# physical column names): such snapshots are read whole through delta-rs' query engine
_SNAPSHOT_ONLY_FEATURES = frozenset({"deletionVectors", "columnMapping"})


@dataclass(frozen=True)
class DeltaCommit:
    """What a committed write did, as told to a ``CommitHook`` (on the driver's host)."""

    uri: str
    version: int
    mode: str
    created: bool
    table: str | None = None


CommitHook = Callable[[DeltaCommit], None]


def open_table(location: TableLocation, version: int | str | datetime | None = None) -> DeltaTable:
    """Open the Delta table at ``location`` (at a version or time), with Lakeworks errors."""
    try:
        dt = DeltaTable(location.uri, storage_options=location.delta_options())
    except TableNotFoundError as exc:
        raise NotFoundError(
            f"no Delta table at '{location.uri}'; write one first, e.g. "
            f"df.write.format('{FORMAT}').mode('append').save('{location.uri}')"
        ) from exc
    except DeltaError as exc:
        raise BackendError(f"cannot open the Delta table at '{location.uri}': {exc}") from exc
    if version is not None:
        latest = dt.version()
        try:
            dt.load_as_version(version)
        except (DeltaError, ValueError) as exc:
            raise InvalidInputError(
                f"the Delta table at '{location.uri}' has no version {version!r} "
                f"(versions 0 to {latest}, or a time after its first commit)"
            ) from exc
    return dt


def table_exists(location: TableLocation) -> bool:
    return DeltaTable.is_deltatable(location.uri, storage_options=location.delta_options())


def arrow_schema(dt: DeltaTable) -> pa.Schema:
    """The table's schema as the Arrow types Lakeworks reads and writes."""
    return delta_schema(pa.schema(dt.schema()))


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (timestamps are Spark's ``TIMESTAMP``, in UTC)."""
    return from_arrow_schema(delta_schema(schema))


def columns_of(schema: pa.Schema) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema)


class _FilePartition(InputPartition):
    """One live data file and its partition values (typed, from the log)."""

    def __init__(self, path: str, partition_values: dict[str, Any]) -> None:
        super().__init__(path)
        self.path = path
        self.partition_values = partition_values


class _SnapshotPartition(InputPartition):
    """A whole snapshot, read through delta-rs' query engine."""


class DeltaRsReader(DataSourceReader):
    """Reads one snapshot of a Delta table: a partition per live file."""

    def __init__(self, location: TableLocation, version: int, schema: StructType) -> None:
        self.location = location
        self.version = version
        self.schema = schema

    def partitions(self) -> Sequence[InputPartition]:
        dt = open_table(self.location, self.version)
        features = set(dt.protocol().reader_features or ())
        if features & _SNAPSHOT_ONLY_FEATURES:
            return [_SnapshotPartition(self.version)]
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        parts: list[InputPartition] = []
        for action in actions:
            values = {k[len("partition."):]: v for k, v in action.items()
                      if k.startswith("partition.")}
            parts.append(_FilePartition(action["path"], values))
        return parts or [_SnapshotPartition(self.version)]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        target = to_arrow_schema(self.schema, timezone="UTC")
        if isinstance(partition, _FilePartition):
            yield from self._read_file(partition, target)
            return
        dt = open_table(self.location, self.version)
        stream = QueryBuilder().register("t", dt).execute("SELECT * FROM t")
        for batch in pa.RecordBatchReader.from_stream(stream):
            yield conform(batch, target)

    def _read_file(self, part: _FilePartition, target: pa.Schema) -> Iterator[pa.RecordBatch]:
        fs = self.location.file_system()
        with fs.open_input_file(self.location.logged_path(part.path)) as handle:
            parquet = pq.ParquetFile(handle)
            present = set(parquet.schema_arrow.names)
            wanted = [f.name for f in target if f.name in present]
            for batch in parquet.iter_batches(columns=wanted):
                extra = {}
                for name, value in part.partition_values.items():
                    if target.get_field_index(name) >= 0 and name not in present:
                        dtype = target.field(name).type
                        extra[name] = _constant(value, dtype, batch.num_rows)
                if extra:
                    batch = pa.RecordBatch.from_arrays(
                        [*batch.columns, *extra.values()],
                        names=[*batch.schema.names, *extra.keys()],
                    )
                yield conform(batch, target)


def _constant(value: Any, dtype: pa.DataType, rows: int) -> pa.Array:
    if value is None:
        return pa.nulls(rows, dtype)
    scalar = pa.scalar(value)
    if not scalar.type.equals(dtype):
        scalar = scalar.cast(dtype)
    return pa.repeat(scalar, rows)


@dataclass
class WrittenFiles(WriterCommitMessage):
    """What one write task produced."""

    files: list[FileAdd]


class DeltaRsWriter(DataSourceArrowWriter):
    """Writes a DataFrame as one Delta transaction (append or overwrite)."""

    def __init__(
        self,
        location: TableLocation,
        schema: pa.Schema,
        *,
        overwrite: bool,
        partition_by: tuple[str, ...],
        on_commit: CommitHook | None = None,
        table: str | None = None,
    ) -> None:
        self.location = location
        self.schema = schema
        self.overwrite = overwrite
        self.partition_by = partition_by
        self.on_commit = on_commit
        self.table = table
        self.prefix = f"part-{uuid.uuid4().hex[:12]}"  # this job's files: abort finds them

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WrittenFiles:
        return WrittenFiles(write_files(self.location, iterator, self.schema, self.partition_by,
                                        prefix=self.prefix))

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        files = [f for m in messages if isinstance(m, WrittenFiles) for f in m.files]
        actions: list[AddAction | RemoveAction] = [
            AddAction(f.path, f.size, f.partition_values, f.modification_time, True, f.stats)
            for f in files
        ]
        mode: Literal["append", "overwrite"] = "overwrite" if self.overwrite else "append"
        delta = Schema.from_arrow(self.schema)
        created = not table_exists(self.location)
        try:
            if created:
                create_table_with_add_actions(
                    self.location.uri, delta, [a for a in actions if isinstance(a, AddAction)],
                    mode=mode,
                    partition_by=list(self.partition_by) or None,
                    storage_options=self.location.delta_options(),
                )
            else:
                dt = open_table(self.location)
                dt.create_write_transaction(actions, mode, delta,
                                            partition_by=list(self.partition_by) or None)
            version = open_table(self.location).version()
        except DeltaError as exc:
            raise BackendError(
                f"committing {len(files)} file(s) to the Delta table at '{self.location.uri}' "
                f"failed: {exc}"
            ) from exc
        log.info("committed %d file(s) to %s as version %d", len(files), self.location.uri,
                 version)
        if self.on_commit is not None:
            event = DeltaCommit(self.location.uri, version, mode, created, self.table)
            # The Delta commit is durable: a failing hook must not fail the Spark job (Spark
            # would then call abort on files the table now holds). Say so and carry on.
            try:
                self.on_commit(event)
            except Exception:
                log.warning("Delta commit %s succeeded but its catalog hook failed; run "
                            "lakeworks.spark.refresh(spark) to catch up", event, exc_info=True)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        """Delete this job's files that no table version references.

        Files of finished tasks come in ``messages``; a task still running when the job
        failed may not have reported, so files with this job's name prefix are swept too. A
        task that Spark kills while it writes can still leave a file behind after this:
        Delta never reads unreferenced files, and ``vacuum`` removes them.
        """
        reported = {f.path for m in messages if isinstance(m, WrittenFiles) for f in m.files}
        live: set[str] = set()
        if table_exists(self.location):
            logged = pa.table(open_table(self.location).get_add_actions()).column("path")
            live = {unquote(p) for p in logged.to_pylist()}
        fs = self.location.file_system()
        doomed = (reported | set(files_named(self.location, self.prefix))) - live
        for path in sorted(doomed):
            fs.delete_file(self.location.data_path(path))
        log.info("aborted a write to %s: removed %d file(s)", self.location.uri, len(doomed))


class DeltaRsDataSource(DataSource):
    """``spark.read.format("deltars")`` and ``df.write.format("deltars")``."""

    bound_location: ClassVar[TableLocation | None] = None
    bound_table: ClassVar[str | None] = None
    on_commit: ClassVar[CommitHook | None] = None

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def _location(self) -> TableLocation:
        bound = type(self).bound_location
        if bound is not None:
            return bound
        location = location_from_options(self.options)
        if location is None:
            raise InvalidInputError(
                f"the {FORMAT} data source needs a 'path' option (a folder or URL of a Delta "
                "table). Spark passes none for its catalog tables: in a Lakeworks session use "
                "df.write.saveAsTable(name) or lakeworks.spark.save_as_table(df, name), which "
                "register the table with its location"
            )
        return location

    def schema(self) -> StructType:
        dt = open_table(self._location(), version_option(self.options))
        return spark_schema(arrow_schema(dt))

    def reader(self, schema: StructType) -> DeltaRsReader:
        dt = open_table(self._location(), version_option(self.options))
        return DeltaRsReader(self._location(), dt.version(), schema)

    def writer(self, schema: StructType, overwrite: bool) -> DeltaRsWriter:
        location = self._location()
        given = delta_schema(to_arrow_schema(schema, timezone="UTC"))
        _check_delta_types(given, location)
        partition_by = partition_option(self.options)
        target = given
        if table_exists(location):
            dt = open_table(location)
            current, existing = arrow_schema(dt), tuple(dt.metadata().partition_columns)
            replace = overwrite and flag_option(self.options, "overwriteSchema")
            if replace and (partition_by or existing) and partition_by != existing:
                # delta-rs cannot change partition columns in a transaction
                raise InvalidInputError(
                    f"the Delta table at '{location.uri}' is partitioned by {list(existing)}; "
                    f"an overwrite cannot change that to {list(partition_by)}: drop the table "
                    "first or write to another location"
                )
            partition_by = existing
            if not replace:
                problems = append_mismatch(columns_of(current), columns_of(given))
                if problems:
                    action = "overwrite" if overwrite else "append to"
                    hint = ("; to replace the schema too, set option overwriteSchema=true"
                            if overwrite else "")
                    raise InvalidInputError(
                        f"cannot {action} the Delta table at '{location.uri}': "
                        + "; ".join(problems) + hint
                    )
                target = current
        missing = [c for c in partition_by if c not in target.names]
        if missing:
            raise InvalidInputError(
                f"partition column(s) {missing} are not columns of the data", field="partitionBy",
                allowed=target.names,
            )
        return DeltaRsWriter(location, target, overwrite=overwrite, partition_by=partition_by,
                             on_commit=type(self).on_commit, table=type(self).bound_table)


def _check_delta_types(schema: pa.Schema, location: TableLocation) -> None:
    bad = []
    for f in schema:
        try:
            Schema.from_arrow(pa.schema([pa.field(f.name, delta_type(f.type))]))
        except Exception as exc:  # delta-rs raises a bare Exception for unsupported types
            bad.append(f"'{f.name}' ({f.type}: {str(exc).splitlines()[0]})")
    if bad:
        raise InvalidInputError(
            f"cannot write to the Delta table at '{location.uri}': Delta Lake has no type for "
            f"column(s) {', '.join(bad)}; cast them first (e.g. df.withColumn(c, col(c).cast(...)))"
        )


def bind(
    provider: str,
    location: TableLocation | None = None,
    *,
    table: str | None = None,
    on_commit: CommitHook | None = None,
) -> type[DeltaRsDataSource]:
    """A ``deltars`` data source class registered as ``provider``, fixed to one table.

    Without ``location`` it is the path-driven source under another name (``delta``). The
    class is made at run time so that Spark pickles it by value, location included.
    """
    attrs: dict[str, Any] = {
        "bound_location": location,
        "bound_table": table,
        "on_commit": staticmethod(on_commit) if on_commit is not None else None,
        "name": classmethod(lambda cls: provider),
        "__module__": __name__,
    }
    suffix = "".join(c if c.isalnum() else "_" for c in provider)
    return type(f"DeltaRsDataSource_{suffix}", (DeltaRsDataSource,), attrs)
