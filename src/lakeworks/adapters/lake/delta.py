"""Delta Lake tables with delta-rs: ``DeltaTableStore``, the ``TableStore`` port.

Owns every call into ``deltalake``: writes in one transaction (create, append, overwrite,
ignore), merges (upsert on key columns), reads now, at a version or as of a time, the live
file list, schema, history, and deleting a table's files. It translates deltalake's
exceptions into Lakeworks errors at this edge, naming the table's location and what to do.
Data is made Delta-shaped first (``schema.py``: UTC microsecond timestamps, signed integers).

Concurrency: every commit retries on conflicts up to ``max_commit_retries`` times; appends
never conflict with one another, so concurrent appenders (threads or processes) all land.
Local folders commit with an atomic rename; ``s3://`` with a conditional put (``options.py``).

The schema returned by ``schema()`` carries two metadata keys for engines that read the
Parquet files directly: ``delta.partition_columns`` (JSON list: values live in folder names,
not in the files) and ``delta.reader_features`` (JSON list, e.g. ``deletionVectors``: the raw
files alone would not give the table's rows).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.fs import DeltaStorageHandler

from lakeworks.adapters.lake.delta_errors import delta_errors, plain_values
from lakeworks.adapters.lake.options import delta_options, is_local, local_path, table_uri
from lakeworks.adapters.lake.schema import (
    columns_of,
    conform_batch,
    conform_table,
    delta_schema,
)
from lakeworks.core.lake import WriteMode, append_mismatch
from lakeworks.errors import (
    BackendError,
    ConflictError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
)
from lakeworks.ports.lake import MergeResult, StorageLocation, TableVersion

log = logging.getLogger(__name__)

PARTITION_KEY = b"delta.partition_columns"
FEATURES_KEY = b"delta.reader_features"


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is the local wall-clock time."""
    return moment.astimezone(UTC)


class _Source:
    """A stream of batches conformed to the table's schema, remembering the source's error."""

    def __init__(self, reader: pa.RecordBatchReader, target: pa.Schema) -> None:
        self.reader = reader
        self.target = target
        self.error: BaseException | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.reader:
                yield conform_batch(batch, self.target)
        except BaseException as exc:
            self.error = exc
            raise

    def stream(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.target, self.batches())


class DeltaTableStore:
    """The ``TableStore`` port on delta-rs (``deltalake``).

    Args:
        max_commit_retries: how often a commit is retried after another writer committed
            the same version first.

    Example:
        >>> store = DeltaTableStore()
        >>> loc = StorageLocation(str(tmp / "t"))  # doctest: +SKIP
        >>> store.write(loc, pa.table({"a": [1]}), WriteMode.ERROR)  # doctest: +SKIP
        0
    """

    def __init__(self, *, max_commit_retries: int = 100) -> None:
        self._commit = CommitProperties(max_commit_retries=max_commit_retries)

    # -- opening -------------------------------------------------------------------------

    def _target(self, location: StorageLocation) -> tuple[str, dict[str, str]]:
        uri = table_uri(location.url)
        return uri, delta_options(uri, location.options)

    def _open(self, location: StorageLocation, action: str, version: int | None = None
              ) -> DeltaTable:
        uri, options = self._target(location)
        with delta_errors(location.url, action):
            try:
                return DeltaTable(uri, version=version, storage_options=options or None)
            except DeltaError as exc:
                if version is not None and "version" in str(exc).lower():
                    latest = DeltaTable(uri, storage_options=options or None).version()
                    raise NotFoundError(
                        f"the Delta table at '{location.url}' has no version {version}; its "
                        f"versions are 0 to {latest}"
                    ) from None
                raise

    def _existing(self, location: StorageLocation) -> DeltaTable | None:
        """The table at ``location``, or None when there is none yet."""
        uri, options = self._target(location)
        with delta_errors(location.url, "open"):
            try:
                return DeltaTable(uri, storage_options=options or None)
            except TableNotFoundError:
                return None

    def exists(self, location: StorageLocation) -> bool:
        uri, options = self._target(location)
        with delta_errors(location.url, "check"):
            return bool(DeltaTable.is_deltatable(uri, storage_options=options or None))

    # -- writing -------------------------------------------------------------------------

    def write(
        self,
        location: StorageLocation,
        data: pa.Table | pa.RecordBatchReader,
        mode: WriteMode,
        *,
        partition_by: Sequence[str] = (),
    ) -> int:
        """Write in one transaction and return the new version (see ``TableStore.write``)."""
        mode = WriteMode(mode)
        uri, options = self._target(location)
        table = self._existing(location)
        if table is not None and mode is WriteMode.ERROR:
            raise ConflictError(
                f"a Delta table already exists at '{location.url}'; append to it or overwrite "
                "it (mode append or overwrite)"
            )
        if table is not None and mode is WriteMode.IGNORE:
            return int(table.version())
        given = delta_schema(data.schema, new_table=table is None or mode is WriteMode.OVERWRITE)
        target, partitions = given, list(partition_by)
        if table is not None:
            existing = pa.schema(table.schema().to_arrow())
            current = list(table.metadata().partition_columns)
            if mode is WriteMode.APPEND:
                self._check_append(location, existing, given)
                if partitions and partitions != current:
                    raise InvalidInputError(
                        f"the Delta table at '{location.url}' is partitioned by "
                        f"{current or 'nothing'}, not {partitions}; append without partition_by "
                        "or overwrite the table"
                    )
                target, partitions = existing, current
            elif not partitions:
                partitions = [c for c in current if c in given.names]
        missing = [c for c in partitions if c not in target.names]
        if missing:
            raise InvalidInputError(
                f"partition column(s) {missing} are not in the data (columns: "
                f"{', '.join(target.names)})"
            )
        source = _Source(data, target) if isinstance(data, pa.RecordBatchReader) else None
        payload = source.stream() if source is not None else conform_table(data, target)
        fresh_folder = is_local(uri) and not Path(local_path(uri)).exists()
        try:
            with delta_errors(location.url, "write"):
                if table is None:
                    write_deltalake(uri, payload, mode="error", partition_by=partitions or None,
                                    storage_options=options or None,
                                    commit_properties=self._commit)
                else:
                    write_deltalake(table, payload, mode=mode.value,
                                    partition_by=partitions or None,
                                    schema_mode="overwrite" if mode is WriteMode.OVERWRITE
                                    else None,
                                    commit_properties=self._commit)
        except ConflictError:
            if table is None and mode is not WriteMode.ERROR and source is None:
                # another writer created the table meanwhile: write again against it
                return self.write(location, data, mode, partition_by=partition_by)
            raise
        except LakeworksError:
            if fresh_folder and not self.exists(location):
                shutil.rmtree(local_path(uri), ignore_errors=True)  # the uncommitted files
            if source is not None and source.error is not None:
                raise self._source_error(source.error) from None
            raise
        if table is not None:
            return int(table.version())
        return int(self._open(location, "read").version())

    @staticmethod
    def _source_error(error: BaseException) -> LakeworksError:
        if isinstance(error, LakeworksError):
            return error
        return InvalidInputError(f"reading the data to write failed: {error}")

    @staticmethod
    def _check_append(location: StorageLocation, existing: pa.Schema, given: pa.Schema) -> None:
        problems = append_mismatch(columns_of(existing), columns_of(given))
        if problems:
            raise InvalidInputError(
                f"cannot append to the Delta table at '{location.url}': "
                + "; ".join(problems)
                + ". The table is unchanged; cast the data to the table's types, or overwrite "
                "the table to change its schema"
            )

    def merge(self, location: StorageLocation, data: pa.Table, on: Sequence[str]) -> MergeResult:
        """Upsert ``data`` on the key columns ``on`` in one transaction."""
        keys = [on] if isinstance(on, str) else list(on)
        if not keys:
            raise InvalidInputError("a merge needs at least one key column (on=['id'])")
        table = self._open(location, "merge into")
        existing = pa.schema(table.schema().to_arrow())
        given = delta_schema(data.schema, new_table=False)
        lowered = {n.lower(): n for n in existing.names}
        for key in keys:
            if key.lower() not in lowered or key.lower() not in {n.lower() for n in given.names}:
                raise InvalidInputError(
                    f"merge key '{key}' must be a column of both the table (columns: "
                    f"{', '.join(existing.names)}) and the data (columns: "
                    f"{', '.join(given.names)})"
                )
        self._check_append(location, existing, given)
        source = conform_table(data, existing)
        predicate = " AND ".join(
            f"t.`{lowered[k.lower()]}` = s.`{lowered[k.lower()]}`" for k in keys
        )
        with delta_errors(location.url, "merge into"):
            metrics = (
                table.merge(source, predicate=predicate, source_alias="s", target_alias="t",
                            commit_properties=self._commit)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        return MergeResult(
            version=int(table.version()),
            inserted=int(metrics.get("num_target_rows_inserted", 0)),
            updated=int(metrics.get("num_target_rows_updated", 0)),
            deleted=int(metrics.get("num_target_rows_deleted", 0)),
        )

    # -- reading -------------------------------------------------------------------------

    def _snapshot(self, location: StorageLocation, version: int | None,
                  as_of: datetime | None) -> DeltaTable:
        if version is not None and as_of is not None:
            raise InvalidInputError("give a version or a time (as_of), not both")
        if as_of is None:
            return self._open(location, "read", version)
        # Versions are chosen by their commit timestamps (what ``history`` shows), not by the
        # log files' modification times, which object stores keep to the second only.
        table = self._open(location, "read")
        moment = _utc(as_of)
        with delta_errors(location.url, "read"):
            history = self._history(table)
        chosen = next((h.version for h in history if h.timestamp <= moment), None)
        if chosen is None:
            first = history[-1].timestamp if history else None
            raise NotFoundError(
                f"the Delta table at '{location.url}' did not exist yet at {moment.isoformat()}"
                + (f"; its first version is from {first.isoformat()}" if first else "")
            )
        if chosen == table.version():
            return table
        return self._open(location, "read", chosen)

    def read(
        self,
        location: StorageLocation,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The table now, at ``version``, or as of a time (a naive time is local time): the
        newest version committed at or before it."""
        table = self._snapshot(location, version, as_of)
        if columns is not None:
            names = pa.schema(table.schema().to_arrow()).names
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise InvalidInputError(
                    f"column(s) {unknown} are not in the table at '{location.url}' "
                    f"(columns: {', '.join(names)})"
                )
        with delta_errors(location.url, "read"):
            result: pa.Table = table.to_pyarrow_table(
                columns=list(columns) if columns is not None else None
            )
        return result

    def dataset(self, location: StorageLocation, *, version: int | None = None) -> pads.Dataset:
        table = self._open(location, "read", version)
        with delta_errors(location.url, "read"):
            return table.to_pyarrow_dataset()

    def files(self, location: StorageLocation, *, version: int | None = None) -> list[str]:
        """Absolute paths (local tables) or URLs (``s3://...``) of the live Parquet files."""
        table = self._open(location, "list the files of", version)
        with delta_errors(location.url, "list the files of"):
            return [str(f) for f in table.file_uris()]

    def schema(self, location: StorageLocation) -> pa.Schema:
        table = self._open(location, "read the schema of")
        with delta_errors(location.url, "read the schema of"):
            schema = pa.schema(table.schema().to_arrow())
            partitions = list(table.metadata().partition_columns)
            features = list(table.protocol().reader_features or [])
        return schema.with_metadata({
            PARTITION_KEY: json.dumps(partitions).encode(),
            FEATURES_KEY: json.dumps(features).encode(),
        })

    def version(self, location: StorageLocation) -> int:
        return int(self._open(location, "read").version())

    def history(self, location: StorageLocation) -> list[TableVersion]:
        """The table's commits, newest first."""
        table = self._open(location, "read the history of")
        with delta_errors(location.url, "read the history of"):
            return self._history(table)

    @staticmethod
    def _history(table: DeltaTable) -> list[TableVersion]:
        entries: list[TableVersion] = []
        for entry in table.history():
            stamp = entry.get("timestamp")
            moment = (datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp is not None
                      else datetime.fromtimestamp(0, UTC))
            entries.append(TableVersion(
                version=int(entry.get("version", 0)),
                timestamp=moment,
                operation=str(entry.get("operation", "")),
                parameters=plain_values(entry.get("operationParameters") or {}),
                metrics=plain_values(entry.get("operationMetrics") or {}),
            ))
        return sorted(entries, key=lambda e: e.version, reverse=True)

    # -- deleting ------------------------------------------------------------------------

    def delete(self, location: StorageLocation) -> None:
        """Remove the table's folder and everything in it (a missing folder is fine)."""
        uri, options = self._target(location)
        if is_local(uri):
            folder = Path(local_path(uri))
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise BackendError(f"could not delete the table folder '{folder}': {exc}") from exc
            return
        fs = pafs.PyFileSystem(DeltaStorageHandler(uri, options or None))
        with delta_errors(location.url, "delete"):
            try:
                entries = fs.get_file_info(pafs.FileSelector("", recursive=False))
            except FileNotFoundError:
                return
            for entry in entries:  # delta-rs cannot delete the root's contents in one call
                if entry.type == pafs.FileType.Directory:
                    fs.delete_dir(entry.path)
                else:
                    fs.delete_file(entry.path)
