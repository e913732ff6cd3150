"""The SparkSession factory: local settings fit for a small machine, Delta and the lake wired in.

Owns building a session (classic ``local[N]`` by default, a ``spark://`` cluster master, or a
Spark Connect ``sc://`` URL), the defaults that matter on two cores (``default_conf``:
shuffle partitions at twice the cores instead of 200, no UI, Arrow transfers), registering the ``deltars`` data source (and
``delta`` as its alias on local masters, where no delta-spark jar exists), and binding the
lake's tables into Spark's catalog (``tables.py``). It knows nothing of workspaces: the
entry point (``lakeworks.spark``) passes the warehouse, the tables and the catalog hooks.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pyspark.sql import SparkSession

from lakeworks.adapters.spark.datasource import FORMAT, CommitHook, DeltaRsDataSource, bind
from lakeworks.adapters.spark.tables import (
    SparkTable,
    TableCatalog,
    register_databases,
    register_tables,
)
from lakeworks.adapters.spark.writers import attach
from lakeworks.errors import BackendError, InvalidInputError, MissingDependencyError

log = logging.getLogger(__name__)

# settings a running JVM or a Connect server ignores: given only when a session is built
_LAUNCH_ONLY = ("spark.driver.memory", "spark.master", "spark.sql.warehouse.dir",
                "spark.driver.extraJavaOptions", "spark.jars", "spark.jars.packages")
# Of Lakeworks' defaults, those a Spark Connect client may set on a server's session: the
# rest (memory, UI, partitions sized for this machine's cores) belong to the server.
_REMOTE_DEFAULTS = ("spark.sql.execution.arrow.pyspark.enabled", "spark.sql.sources.default")


def local_cores() -> int:
    """CPUs this process may use (its affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_conf(warehouse_dir: str, cores: int) -> dict[str, str]:
    """Lakeworks' defaults; the caller's ``conf`` wins over each."""
    return {
        "spark.driver.memory": "2g",
        "spark.sql.shuffle.partitions": str(2 * cores),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.warehouse.dir": warehouse_dir,
        "spark.sql.sources.default": FORMAT,
    }


def make_session(
    *,
    warehouse_url: str,
    tables: Sequence[SparkTable] = (),
    databases: Sequence[str] = (),
    conf: Mapping[str, str] | None = None,
    master: str | None = None,
    remote: str | None = None,
    app_name: str = "lakeworks",
    catalog: TableCatalog | None = None,
    on_commit: CommitHook | None = None,
) -> SparkSession:
    """Build (or join) a SparkSession wired to the lake.

    Args:
        warehouse_url: Spark's warehouse folder (``spark.sql.warehouse.dir``); a local path.
        tables: lake tables to bind as ``db.name`` in Spark's catalog.
        databases: lake databases to create in Spark's catalog (those of ``tables`` are).
        conf: Spark settings, over Lakeworks' defaults (``default_conf``).
        master: ``local[N]`` (default: one thread per usable CPU) or ``spark://host:7077``.
        remote: a Spark Connect URL (``sc://host:15002``); excludes ``master``.
        app_name: the application name.
        catalog: the lake catalog ``saveAsTable`` writes through (``tables.TableCatalog``).
        on_commit: called after each Delta commit to a bound table (in a Python worker).

    Raises:
        InvalidInputError: both ``master`` and ``remote``, or a warehouse that is a URL.
        BackendError: Spark failed to start (Java missing, a port taken, ...).

    Example:
        >>> spark = make_session(warehouse_url="/tmp/wh")  # doctest: +SKIP
        >>> spark.range(3).write.saveAsTable("t")  # doctest: +SKIP
    """
    if master and remote:
        raise InvalidInputError(
            f"give a Spark master ({master}) or a Spark Connect URL ({remote}), not both",
            field="spark_remote",
        )
    if "://" in warehouse_url and not warehouse_url.startswith("file:"):
        raise InvalidInputError(
            f"Spark's warehouse must be a local folder, not {warehouse_url!r}", field="warehouse"
        )
    warehouse = warehouse_url.removeprefix("file://")
    settings = {**default_conf(str(Path(warehouse).expanduser().resolve()), local_cores()),
                **{k: str(v) for k, v in (conf or {}).items()}}
    # Python workers must run this interpreter (with pyarrow, deltalake and Lakeworks)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if remote:
        _check_connect_client()
        _check_reachable(remote)
        builder = builder.remote(remote)
        given = {k: str(v) for k, v in (conf or {}).items() if k not in _LAUNCH_ONLY}
        settings = {k: v for k, v in settings.items() if k in _REMOTE_DEFAULTS} | given
    else:
        _leave_connect_mode()
        builder = builder.master(master or f"local[{local_cores()}]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
        for key, value in settings.items():
            # a session that existed already keeps its settings: apply those that can change
            if spark.conf.get(key, None) != value and spark.conf.isModifiable(key):
                spark.conf.set(key, value)
    except Exception as exc:  # py4j, gRPC and Spark raise many types while starting
        if remote:
            raise BackendError(
                f"the Spark Connect server at {remote} did not answer ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); check the workspace's "
                "spark_remote setting and that the server runs"
            ) from exc
        raise BackendError(
            f"Spark did not start ({type(exc).__name__}: {exc}). It needs Java 17 or later on "
            "PATH (or JAVA_HOME); see the Spark logs above for details"
        ) from exc
    register_data_sources(spark, local=not remote and (master or "local").startswith("local"))
    if catalog is not None:
        attach(spark, catalog, on_commit)
    register_databases(spark, databases)
    register_tables(spark, tables, on_commit=on_commit)
    log.info("Spark session %s ready with %d lake table(s)", spark.version, len(tables))
    return spark


def _check_connect_client() -> None:
    """Spark Connect's client needs gRPC (PySpark's ``connect`` extra): say how to get it."""
    try:
        import grpc  # noqa: F401
        import zstandard  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "grpcio", "spark-connect",
                                     "A Spark Connect session (spark_remote)") from exc


def _check_reachable(remote: str) -> None:
    """Fail at once when nothing listens at a Spark Connect URL.

    PySpark's client retries an unreachable server with growing back-offs for minutes before
    it reports anything; a plain TCP connection says the same in a moment.
    """
    parsed = urlsplit(remote.split(";", 1)[0])
    if parsed.scheme != "sc" or not parsed.hostname:
        raise InvalidInputError(
            f"a Spark Connect URL looks like sc://host:15002, not {remote!r}", field="spark_remote"
        )
    port = parsed.port or 15002
    try:
        with socket.create_connection((parsed.hostname, port), timeout=5):
            pass
    except OSError as exc:
        raise BackendError(
            f"nothing answers at {parsed.hostname}:{port} ({exc.strerror or exc}), the Spark "
            f"Connect server of spark_remote = {remote!r}; start it (sbin/start-connect-server.sh"
            ") or correct the setting"
        ) from exc


def _leave_connect_mode() -> None:
    """Let a classic session follow a stopped Spark Connect one in the same process.

    PySpark marks a process as Spark Connect's (``SPARK_CONNECT_MODE_ENABLED``) when a remote
    session starts and never clears the mark, after which a classic builder looks for a
    remote URL. The mark is removed once no remote session is active; while one is, the two
    kinds cannot share the process (PySpark's functions follow the mark).
    """
    if "SPARK_CONNECT_MODE_ENABLED" not in os.environ or "SPARK_REMOTE" in os.environ:
        return
    try:
        from pyspark.sql.connect.session import SparkSession as RemoteSession
    except ImportError:  # no Connect client: no remote session can be active
        active = None
    else:
        active = RemoteSession.getActiveSession()
    if active is not None:
        raise InvalidInputError(
            "a Spark Connect session is active in this process; stop it (spark.stop()) before "
            "starting a local or cluster session", field="spark_master",
        )
    del os.environ["SPARK_CONNECT_MODE_ENABLED"]


def register_data_sources(spark: SparkSession, *, local: bool) -> None:
    """Register ``deltars`` (and ``delta`` on local masters, where it cannot clash)."""
    spark.dataSource.register(DeltaRsDataSource)
    if local:
        spark.dataSource.register(bind("delta"))
