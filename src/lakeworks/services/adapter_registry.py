"""The one registry of adapters, by role, as lazy dotted paths.

Services name an adapter by role (``metadata``, ``artifacts``, ``tracking``, ``environments``)
and get it here, imported only when first used, so that importing a service never imports a
heavy technology (SQLAlchemy, fsspec, MLflow). Tests and deployments may register others.
"""

from __future__ import annotations

import importlib
from typing import Any

from lakeworks.errors import InvalidInputError

_REGISTRY: dict[str, str] = {
    "metadata": "lakeworks.adapters.metadata:open_metadata_store",
    "artifacts": "lakeworks.adapters.artifacts:open_artifact_store",
    "tracking": "lakeworks.adapters.tracking:connect_tracking",
    "tracking_server": "lakeworks.adapters.tracking:ensure_tracking_server",
    "tracking_server_stop": "lakeworks.adapters.tracking:stop_tracking_server",
    "tracking_server_status": "lakeworks.adapters.tracking:tracking_server_status",
    "environments": "lakeworks.adapters.envs:VenvEnvironmentBuilder",
    "executor": "lakeworks.adapters.compute:LocalStepExecutor",
    "fetch": "lakeworks.adapters.external:fetch_url",
    "table_store": "lakeworks.adapters.lake:DeltaTableStore",
    "file_reader": "lakeworks.adapters.lake:ArrowFileReader",
    "sql_engine": "lakeworks.adapters.sql.duckdb:DuckDbEngine",
    "sql_parser": "lakeworks.adapters.sql.statements:SqlglotStatementParser",
    "sql_predict": "lakeworks.adapters.sql.predict_sql:DuckDbPredictSql",
    "secrets": "lakeworks.adapters.secrets:open_secret_box",
    "filesystem": "lakeworks.adapters.artifacts:open_filesystem",
    "list_folder": "lakeworks.adapters.artifacts:list_folder",
    "automl_engine": "lakeworks.adapters.automl:run_automl",
    "automl_runs": "lakeworks.adapters.tracking.automl_runs:AutoMLRunLogger",
    "sweep_sampler": "lakeworks.adapters.sampling:OptunaSampler",
    "onnx_scorer": "lakeworks.adapters.scoring.onnx_model:OnnxModel",
    "pyfunc_scorer": "lakeworks.adapters.scoring.pyfunc_model:PyfuncModel",
}


def register(role: str, dotted: str) -> None:
    """Point ``role`` at another ``module:attribute``."""
    if ":" not in dotted:
        raise InvalidInputError(f"adapter path {dotted!r} must look like 'package.module:name'")
    _REGISTRY[role] = dotted


def load(role: str) -> Any:
    """Import and return the adapter factory registered for ``role``."""
    try:
        dotted = _REGISTRY[role]
    except KeyError:
        raise InvalidInputError(f"no adapter for role '{role}'", allowed=_REGISTRY) from None
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)
