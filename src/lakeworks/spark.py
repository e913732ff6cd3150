"""Spark wired to a workspace's lake: ``session()``, ``refresh``, ``save_as_table``, ``read_table``.

Owns the entry point from user code and Spark jobs to Spark: finding the workspace (an
argument, ``LAKEWORKS_WORKSPACE``, or the nearest configured folder as
``MLClient.from_config`` does), building the session through the Spark adapter with the
workspace's settings (``spark_master``, ``spark_remote``, ``spark_conf``) and every lake
table bound as ``db.table``, and connecting the adapter's hooks to the lake service so that
``df.write.saveAsTable("bike_data")`` lands in the lake catalog that the SQL engine reads.
``run_entry`` runs a user's Spark script with that session already active. Every session
has the SQL functions ``PREDICT``, ``PREDICT_LABEL`` and ``PREDICT_PROBA`` over the
workspace's registered models, and ``predict(df, model)`` appends a model's prediction to a
DataFrame (``spark_predict.py`` wires both to the registry).

PySpark is the optional ``spark`` extra: this module imports without it, and each function
raises ``MissingDependencyError`` naming the extra when it needs Spark.

Example:
    >>> import lakeworks.spark  # doctest: +SKIP
    >>> spark = lakeworks.spark.session()  # doctest: +SKIP
    >>> spark.sql("SELECT season, count(*) FROM bike_data GROUP BY season").show()  # doctest: +SKIP
    >>> spark.sql("SELECT *, PREDICT('rental-model', struct(*)) AS predicted "
    ...           "FROM bike_data").show()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import runpy
import sys
import weakref
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeworks import spark_predict
from lakeworks.core.lake import TableRecord, parse_table_name
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.ports.lake import StorageLocation
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import Workspace, find_workspace, open_workspace

if TYPE_CHECKING:
    from types import ModuleType

    from pyspark.sql import DataFrame, SparkSession

    from lakeworks.adapters.spark import DeltaCommit, SparkTable

log = logging.getLogger(__name__)

WORKSPACE_ENV = "LAKEWORKS_WORKSPACE"
CREATED_BY = "spark"
_workspaces: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()

__all__ = ["WORKSPACE_ENV", "predict", "read_table", "refresh", "run_entry", "save_as_table",
           "session"]


def _adapter() -> ModuleType:
    # PySpark is an optional extra: the adapter (which raises MissingDependencyError naming
    # it) is imported only when Spark is used, so `import lakeworks.spark` always works.
    from lakeworks.adapters import spark as adapter

    return adapter


def find_workspace_path(workspace: str | Path | Workspace | None = None) -> Path:
    """The workspace folder: the argument, ``LAKEWORKS_WORKSPACE``, or the nearest one.

    Raises:
        NotFoundError: no workspace was given or found, with how to name one.
    """
    if isinstance(workspace, Workspace):
        return workspace.path
    if workspace is not None:
        return Path(workspace).expanduser().resolve()
    if os.environ.get(WORKSPACE_ENV):
        return Path(os.environ[WORKSPACE_ENV]).expanduser().resolve()
    found = find_workspace(Path.cwd())
    if found is None:
        raise NotFoundError(
            f"no Lakeworks workspace found in '{Path.cwd()}' or above; pass "
            f"lakeworks.spark.session(workspace=PATH) or set {WORKSPACE_ENV}"
        )
    return found


class _LakeCatalog:
    """The adapter's ``TableCatalog`` over one workspace's lake service."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.lake = LakeService(ws)

    def find(self, database: str, name: str) -> SparkTable | None:
        try:
            record = self.lake.table(f"{database}.{name}")
        except NotFoundError:
            return None
        return _spark_table(self.lake, record)

    def managed(self, database: str, name: str) -> SparkTable:
        location = self.lake.location(self.lake.managed_location(f"{database}.{name}"))
        return _table(database, name, location)

    def saved(self, table: SparkTable, *, created: bool) -> None:
        qualified = f"{table.database}.{table.name}"
        if not created:
            self.lake.refresh(qualified)
            return
        try:
            self.lake.databases.get(table.database)
        except NotFoundError:  # made by Spark's CREATE DATABASE in this session
            try:
                self.lake.create_database(table.database)
            except ConflictError:
                pass  # another process made it meanwhile
        self.lake.register_external(qualified, table.location, created_by=CREATED_BY)


def _table(database: str, name: str, location: StorageLocation) -> SparkTable:
    table: SparkTable = _adapter().SparkTable(database, name, location.url,
                                              dict(location.options))
    return table


def _spark_table(lake: LakeService, record: TableRecord) -> SparkTable:
    return _table(record.database, record.name, lake.location(record))


def _after_commit(workspace: str, commit: DeltaCommit) -> None:
    """Commit hook of bound tables, run in a Spark Python worker: refresh the table record."""
    if commit.table is None:
        return
    ws = open_workspace(Path(workspace))
    try:
        LakeService(ws).refresh(commit.table)
    finally:
        ws.close()


def _warehouse(ws: Workspace, lake: LakeService) -> str:
    uri = lake.warehouse_uri()
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" in uri:
        # Spark's own warehouse must be a local folder; lake tables still live at their URLs
        return str(ws.state_dir / "spark-warehouse")
    return uri


def session(workspace: str | Path | Workspace | None = None, **conf: str) -> SparkSession:
    """A SparkSession in which every lake table of the workspace is a Spark table.

    ``spark.table("bike_data")`` and ``spark.sql("SELECT ... FROM bike_data")`` read the
    Delta tables the SQL engine sees, and ``df.write.saveAsTable("t")`` writes one (Delta,
    registered in the lake catalog). An active session is joined rather than replaced.

    Args:
        workspace: the workspace folder (default: ``LAKEWORKS_WORKSPACE`` or the nearest).
        **conf: Spark settings, over the workspace's ``spark_conf`` and Lakeworks' defaults,
            e.g. ``session(**{"spark.sql.shuffle.partitions": "8"})``.

    Raises:
        MissingDependencyError: PySpark is not installed (``pip install 'lakeworks[spark]'``).
        NotFoundError: no workspace.
        BackendError: Spark did not start (Java missing).
    """
    adapter = _adapter()
    path = find_workspace_path(workspace)
    ws = workspace if isinstance(workspace, Workspace) else open_workspace(path)
    lake = LakeService(ws)
    settings = ws.settings
    spark: SparkSession = adapter.make_session(
        warehouse_url=_warehouse(ws, lake),
        tables=[_spark_table(lake, r) for r in lake.list_tables()],
        databases=[d.name for d in lake.list_databases()],
        conf={**settings.spark_conf, **conf},
        master=settings.spark_master,
        remote=settings.spark_remote,
        app_name=f"lakeworks-{ws.name}",
        catalog=_LakeCatalog(ws),
        on_commit=partial(_after_commit, str(ws.path)),
    )
    _workspaces[spark] = ws.path
    spark_predict.register(spark, ws.path)
    return spark


def _session_workspace(spark: SparkSession) -> Workspace:
    path = _workspaces.get(spark)
    return open_workspace(path if path is not None else find_workspace_path())


def refresh(spark: SparkSession) -> list[str]:
    """Bind lake tables created (or changed) since the session started; forget dropped ones.

    Returns the qualified names of the tables bound.
    """
    adapter = _adapter()
    ws = _session_workspace(spark)
    lake = LakeService(ws)
    records = lake.list_tables()
    adapter.register_databases(spark, [d.name for d in lake.list_databases()])
    bound: list[str] = adapter.register_tables(
        spark, [_spark_table(lake, r) for r in records],
        on_commit=partial(_after_commit, str(ws.path)))
    adapter.unregister_missing(spark, {f"{r.database}.{r.name}" for r in records})
    return bound


def save_as_table(
    df: DataFrame,
    name: str,
    *,
    mode: str = "error",
    partition_by: list[str] | tuple[str, ...] = (),
    path: str | None = None,
    **options: str,
) -> None:
    """Write ``df`` as lake table ``name`` (Delta, one transaction) and register it.

    What ``df.write.saveAsTable(name)`` does in a Lakeworks session, as an explicit call.

    Args:
        df: the DataFrame.
        name: ``table`` or ``database.table``.
        mode: ``error`` (default), ``append``, ``overwrite`` (replaces data and schema)
            or ``ignore``.
        partition_by: partition columns, when the table is created.
        path: a location for a new external table (default: the lake's managed location).
        **options: storage options for ``path`` (``endpoint_url``, ...).

    Raises:
        ConflictError: the table exists and ``mode`` is ``error``.
        InvalidInputError: an append whose columns do not match, naming them.
    """
    adapter = _adapter()
    spark = df.sparkSession
    catalog = adapter.catalog_of(spark) or _LakeCatalog(_session_workspace(spark))
    if path is not None:
        options = {**options, "path": path}
    adapter.save_dataframe(spark, df.write, name, mode=mode, options=options,
                           partition_by=list(partition_by), catalog=catalog)


def read_table(
    name: str,
    version: int | None = None,
    *,
    spark: SparkSession | None = None,
) -> DataFrame:
    """A lake table as a DataFrame, now or at a Delta ``version`` (time travel).

    Args:
        name: ``table`` or ``database.table``.
        version: the Delta version to read (default: the latest).
        spark: the session (default: the active one, else ``session()``).

    Raises:
        NotFoundError: no such lake table.
    """
    adapter = _adapter()
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or session()
    if version is None:
        return spark.table(str(parse_table_name(name)))
    if not isinstance(version, int) or version < 0:
        raise InvalidInputError(f"version {version!r} must be a Delta version number (0, 1, ...)")
    ws = _session_workspace(spark)
    lake = LakeService(ws)
    table = _spark_table(lake, lake.table(name))
    reader = spark.read.format(adapter.FORMAT).options(**table.options)
    return reader.option("versionAsOf", str(version)).load(table.location)


def predict(
    df: DataFrame,
    model: str,
    *,
    output_col: str = "prediction",
    probability_col: str | None = None,
) -> DataFrame:
    """``df`` with a registered model's prediction appended as ``output_col``, all columns kept.

    The model's input columns are found in ``df`` by name. Its ONNX bytes (an MLflow model
    without ONNX: its folder, scored by ``mlflow.pyfunc``) are read once on the driver and
    sent to each executor once (a broadcast; on Spark Connect, with the query); each Python
    worker keeps one ONNX Runtime session and scores Arrow batches.

    Args:
        df: the rows to score.
        model: ``name`` (the latest version), ``name:version`` or ``azureml:name:version``.
        output_col: the prediction column: DOUBLE for a regressor, the label for a
            classifier (STRING, BIGINT, DOUBLE or BOOLEAN as the model's labels are).
        probability_col: also append a classifier's class probabilities (a map from each
            class label to its probability).

    Returns:
        A DataFrame; nothing is scored until an action runs.

    Raises:
        NotFoundError: no such model or version, naming it.
        InvalidInputError: the model is neither ONNX nor MLflow, ``df`` lacks one of its
            columns (the message lists the model's inputs and ``df``'s columns), or an
            output column exists already.

    Example:
        >>> scored = lakeworks.spark.predict(spark.table("bike_data"), "rental-model")  # doctest: +SKIP
        >>> scored.write.saveAsTable("bike_predictions")  # doctest: +SKIP
    """
    _adapter()
    ws = _session_workspace(df.sparkSession)
    try:
        return spark_predict.score_dataframe(df, ws, model, output_col=output_col,
                                             probability_col=probability_col)
    finally:
        ws.close()


def run_entry(entry: str, args: list[str], conf: dict[str, str] | None = None) -> None:
    """Run a Spark script with the workspace's session active, as a Spark job step does.

    The session comes from the workspace in ``LAKEWORKS_WORKSPACE`` (else the nearest), so
    the script's own ``SparkSession.builder.getOrCreate()`` returns it. The script runs as
    ``__main__`` with ``sys.argv = [entry, *args]`` and its folder first on ``sys.path``.
    The session is stopped at the end, unless one was already active before the call.

    Raises:
        NotFoundError: the script or the workspace does not exist.
    """
    script = Path(entry).expanduser().resolve()
    if not script.is_file():
        raise NotFoundError(f"Spark entry script '{entry}' does not exist")
    _adapter()
    from pyspark.sql import SparkSession

    had_session = SparkSession.getActiveSession() is not None
    spark = session(None, **(conf or {}))
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        if not had_session:
            spark.stop()


class _SparkModule(type(sys)):  # type: ignore[misc]
    """This module, callable: ``lakeworks.spark(...)`` builds a Spark job or node.

    Azure code writes ``from azure.ai.ml import spark`` and calls ``spark(code=...,
    entry=...)``; with its imports changed to ``lakeworks`` the same name is this module, so
    calling it forwards to ``lakeworks.client.builders.spark`` while ``lakeworks.spark.session()``
    keeps working.
    """

    def __call__(self, **kwargs: Any) -> Any:
        from lakeworks.client.builders import spark as build_spark

        return build_spark(**kwargs)


sys.modules[__name__].__class__ = _SparkModule
