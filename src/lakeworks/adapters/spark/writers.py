"""``df.write.saveAsTable`` in a Lakeworks session: routed to ``tables.save_table``.

Owns the per-session wiring (the lake catalog and the commit hook a session was made with)
and the one place Lakeworks changes PySpark's behaviour: ``DataFrameWriter.saveAsTable``
(classic, and Spark Connect's once loaded) is wrapped once per process. In a session that
``attach`` wired, a ``saveAsTable`` whose format is ``deltars`` or ``delta`` (the session's
default) goes to ``save_table``, so the lab's own ``bike_df.write.saveAsTable("bike_data")``
writes a Delta table the SQL engine sees. Any other format, and any other session, goes to
Spark unchanged. Classic writers keep their settings in the JVM, so ``format``, ``mode``,
``option(s)`` and ``partitionBy`` are wrapped too, to remember what they were given.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.readwriter import DataFrameWriter

from lakeworks.adapters.spark.datasource import FORMAT, CommitHook
from lakeworks.adapters.spark.tables import SparkTable, TableCatalog, save_table
from lakeworks.errors import InvalidInputError

DELTA_FORMATS = frozenset({FORMAT, "delta"})


@dataclass(frozen=True)
class _Wiring:
    catalog: TableCatalog
    on_commit: CommitHook | None


_wired: weakref.WeakKeyDictionary[Any, _Wiring] = weakref.WeakKeyDictionary()


def attach(spark: SparkSession, catalog: TableCatalog, on_commit: CommitHook | None) -> None:
    """Route this session's Delta ``saveAsTable`` calls through ``catalog``."""
    _wired[spark] = _Wiring(catalog, on_commit)
    _install()


def catalog_of(spark: SparkSession) -> TableCatalog | None:
    """The lake catalog a session was wired to, if any."""
    wiring = _wired.get(spark)
    return wiring.catalog if wiring is not None else None


def save_dataframe(
    spark: SparkSession,
    writer: Any,
    name: str,
    *,
    mode: str | None,
    options: Mapping[str, str],
    partition_by: Sequence[str],
    catalog: TableCatalog | None = None,
) -> SparkTable | None:
    """``save_table`` with the session's wiring (``catalog`` when the session has none)."""
    wiring = _wired.get(spark)
    chosen = wiring.catalog if wiring is not None else catalog
    if chosen is None:
        raise InvalidInputError(
            "this Spark session was not made by lakeworks.spark.session(); pass a catalog"
        )
    return save_table(spark, writer, name, mode=mode, options=options,
                      partition_by=partition_by, catalog=chosen,
                      on_commit=wiring.on_commit if wiring is not None else None)


class _Tracked:
    """What a classic ``DataFrameWriter`` was told (its JVM object keeps it private)."""

    def __init__(self) -> None:
        self.format: str | None = None
        self.mode: str | None = None
        self.options: dict[str, str] = {}
        self.partition_by: list[str] = []


def _tracked(writer: Any) -> _Tracked:
    state = writer.__dict__.get("_lakeworks_write")
    if not isinstance(state, _Tracked):
        state = writer.__dict__["_lakeworks_write"] = _Tracked()
    return state


def _wrap(cls: type, method: str, record: Callable[..., None]) -> None:
    original = getattr(cls, method)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        record(_tracked(self), *args, **kwargs)
        return result

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    setattr(cls, method, wrapper)


def _record_format(state: _Tracked, source: str) -> None:
    state.format = source


def _record_mode(state: _Tracked, save_mode: str | None) -> None:
    if save_mode is not None:
        state.mode = save_mode


def _record_option(state: _Tracked, key: str, value: Any) -> None:
    state.options[key] = str(value)


def _record_options(state: _Tracked, **options: Any) -> None:
    state.options.update({k: str(v) for k, v in options.items() if v is not None})


def _record_partition_by(state: _Tracked, *cols: Any) -> None:
    if len(cols) == 1 and isinstance(cols[0], list | tuple):
        cols = tuple(cols[0])
    state.partition_by = [str(c) for c in cols]


def _save_as_table(original: Callable[..., None]) -> Callable[..., None]:
    def saveAsTable(
        self: Any,
        name: str,
        format: str | None = None,
        mode: str | None = None,
        partitionBy: str | list[str] | None = None,
        **options: Any,
    ) -> None:
        spark = self._spark
        if spark not in _wired:
            return original(self, name, format=format, mode=mode, partitionBy=partitionBy,
                            **options)
        self.mode(mode).options(**options)
        if partitionBy is not None:
            self.partitionBy(partitionBy)
        if format is not None:
            self.format(format)
        write = getattr(self, "_write", None)  # Spark Connect keeps its state in Python
        if write is not None:
            state = _Tracked()
            state.format, state.mode = write.source, write.mode
            state.options = {k: str(v) for k, v in write.options.items() if v is not None}
            state.partition_by = list(write.partitioning_cols)
        else:
            state = _tracked(self)
        source = state.format or spark.conf.get("spark.sql.sources.default") or ""
        if source.lower() not in DELTA_FORMATS:
            return original(self, name)
        # Spark refuses partitionBy() for a Python data source: it goes as an option instead
        if write is not None:
            write.partitioning_cols = []
            fresh = self
        else:
            fresh = self._df.write
        save_dataframe(spark, fresh, name, mode=state.mode, options=state.options,
                       partition_by=state.partition_by)
        return None

    saveAsTable.__wrapped__ = original  # type: ignore[attr-defined]
    saveAsTable.__doc__ = original.__doc__
    return saveAsTable


def _install() -> None:
    """Wrap ``DataFrameWriter`` (classic, and Connect when loaded) once per process."""
    classes: list[type] = [DataFrameWriter]
    # Spark Connect's writer only once a Connect session loaded it: importing it without its
    # client dependencies (grpcio) can end a ``python -c`` process (PySpark's doctest guard)
    connect = sys.modules.get("pyspark.sql.connect.readwriter")
    if connect is not None:
        classes.append(connect.DataFrameWriter)
    for cls in classes:
        if getattr(cls, "_lakeworks_wrapped", False):
            continue
        if cls is DataFrameWriter:
            _wrap(cls, "format", _record_format)
            _wrap(cls, "mode", _record_mode)
            _wrap(cls, "option", _record_option)
            _wrap(cls, "options", _record_options)
            _wrap(cls, "partitionBy", _record_partition_by)
        cls.saveAsTable = _save_as_table(cls.saveAsTable)  # type: ignore[attr-defined]
        cls._lakeworks_wrapped = True  # type: ignore[attr-defined]
