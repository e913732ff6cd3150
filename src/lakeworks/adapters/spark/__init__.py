"""Spark adapter: the ``deltars`` data source and the SparkSession factory (PySpark inside).

Owns every import of PySpark in Lakeworks. ``datasource.py`` reads and writes Delta tables
through delta-rs, ``tables.py`` binds lake tables into Spark's catalog and saves DataFrames
as lake tables, ``writers.py`` routes ``saveAsTable`` there, ``session.py`` builds sessions,
``predict.py`` scores models in SQL (``PREDICT``) and DataFrames through Arrow UDFs, and
``datafiles.py`` and ``storage.py`` hold the Spark-free parts. Importing this package without
PySpark raises ``MissingDependencyError`` naming the ``spark`` extra. It must not import
services or other adapters.
"""

from __future__ import annotations

from lakeworks.errors import MissingDependencyError

try:
    import pyspark  # noqa: F401
except ImportError as exc:
    raise MissingDependencyError("pyspark", "spark", "Spark") from exc

from lakeworks.adapters.spark.datasource import (
    FORMAT,
    CommitHook,
    DeltaCommit,
    DeltaRsDataSource,
)
from lakeworks.adapters.spark.session import make_session, register_data_sources
from lakeworks.adapters.spark.tables import (
    SparkTable,
    TableCatalog,
    register_databases,
    register_tables,
    unregister_missing,
)
from lakeworks.adapters.spark.writers import catalog_of, save_dataframe

__all__ = [
    "FORMAT",
    "CommitHook",
    "DeltaCommit",
    "DeltaRsDataSource",
    "SparkTable",
    "TableCatalog",
    "catalog_of",
    "make_session",
    "register_data_sources",
    "register_databases",
    "register_tables",
    "save_dataframe",
    "unregister_missing",
]
