"""``ml_client.sql``: SQL over the lake catalog (``ml_client.sql("SELECT ...")`` returns Arrow), saved procedures, models in the database.

Owns the SDK surface of the SQL engine: calling the group runs a script and returns the last
statement's result as a ``pyarrow.Table`` (``.to_pandas()`` gives a DataFrame), and the
procedure verbs mirror a SQL pool's ``CREATE PROCEDURE``/``EXEC``; ``deploy_model`` does what
Synapse's "Predict with a model" wizard does (the model into a table, a scoring procedure).
``PREDICT`` works in every statement. One engine serves every
call of a client, so tables are registered once and re-read only when the catalog changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeworks.core.lake import ParameterSpec, ProcedureRecord
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.services.sql import SqlService
from lakeworks.services.sql_models import MODELS_TABLE, DeployedModel
from lakeworks.services.workspace import Workspace as WorkspaceHandle


class SqlOperations:
    """SQL over the workspace's lake tables (``ml_client.sql``).

    Every lake table is visible as ``database.table``, and tables of the ``default``
    database by bare name. ``CREATE TABLE ... AS SELECT`` and ``INSERT INTO`` on lake tables
    write Delta tables and update the catalog. Parameters are written ``$name`` (``@name``
    and ``:name`` too) and bound, never pasted into the SQL.

    Example:
        >>> rows = ml_client.sql("SELECT season, count(*) AS n FROM bike_data GROUP BY season")  # doctest: +SKIP
        >>> rows.to_pandas()  # doctest: +SKIP
        >>> ml_client.sql("SELECT * FROM bike_data WHERE cnt > $n", params={"n": 5000})  # doctest: +SKIP
    """

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws
        self._service: SqlService | None = None

    @property
    def _sql(self) -> SqlService:
        if self._service is None:
            self._service = SqlService(self._ws())
        return self._service

    def __call__(self, query: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run ``query`` (one or more statements separated by ``;``); the last result as Arrow.

        Raises:
            InvalidInputError: a SQL error, with the engine's message, line and column.
        """
        return self._sql.execute(query, params)

    def execute(self, query: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """The same as calling the group: ``ml_client.sql.execute("SELECT 1")``."""
        return self._sql.execute(query, params)

    def execute_file(
        self, path: str | Path, params: Mapping[str, Any] | None = None
    ) -> pa.Table:
        """Run the SQL script in ``path``; errors name the file and line."""
        return self._sql.execute_file(path, params)

    def tables(self) -> list[str]:
        """Names of the lake tables, ``database.table``."""
        return [str(name) for name in self._sql.tables()]

    def is_complete(self, text: str) -> bool:
        """Whether ``text`` ends with a finished statement (for shells and notebook cells)."""
        return self._sql.is_complete(text)

    # -- procedures ----------------------------------------------------------------------

    def create_procedure(
        self,
        name: str,
        sql: str | None = None,
        *,
        file: str | Path | None = None,
        parameters: Sequence[ParameterSpec | Mapping[str, Any]] | None = None,
        description: str | None = None,
        replace: bool = False,
    ) -> ProcedureRecord:
        """Save a named, parameterised procedure (a SQL pool's ``CREATE PROCEDURE``).

        Args:
            name: the procedure's name.
            sql: its body, or a whole ``CREATE [OR ALTER] PROCEDURE name @p TYPE = default AS
                ...`` whose header declares the parameters.
            file: a ``.sql`` file holding the same, instead of ``sql``.
            parameters: for a bare body, its parameters: ``{"name": "day", "type": "DATE",
                "default": "2012-01-01"}`` or ``ParameterSpec``.
            description: free text.
            replace: overwrite an existing procedure of that name.

        Example:
            >>> ml_client.sql.create_procedure(  # doctest: +SKIP
            ...     "busy_days", "SELECT * FROM bike_data WHERE cnt > @n",
            ...     parameters=[{"name": "n", "type": "INT", "default": 5000}])
        """
        if (sql is None) == (file is None):
            raise InvalidInputError(
                f"procedure '{name}': give the SQL either as text (sql=...) or as a file "
                "(file=...)"
            )
        if file is not None:
            path = Path(file).expanduser()
            try:
                sql = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise NotFoundError(f"SQL file '{path}' does not exist") from None
        assert sql is not None
        return self._sql.create_procedure(
            name, sql, parameters, description=description, replace=replace
        )

    def exec(self, name: str, /, **params: Any) -> pa.Table:
        """Run a saved procedure: ``ml_client.sql.exec("busy_days", n=6000)``.

        Values are converted to the declared types; a missing or unknown parameter is an
        ``InvalidInputError`` naming it.
        """
        return self._sql.exec_procedure(name, params)

    def get_procedure(self, name: str) -> ProcedureRecord:
        """A saved procedure (its SQL and parameters)."""
        return self._sql.get_procedure(name)

    def list_procedures(self) -> list[ProcedureRecord]:
        """Saved procedures, by name."""
        return self._sql.list_procedures()

    def drop_procedure(self, name: str) -> None:
        """Delete a saved procedure."""
        self._sql.drop_procedure(name)

    # -- models in the database ---------------------------------------------------------

    def deploy_model(
        self,
        model: str,
        *,
        models_table: str = MODELS_TABLE,
        table: str | None = None,
        procedure: str | None = None,
        output_column: str | None = None,
        materialize: str | None = None,
        description: str | None = None,
    ) -> DeployedModel:
        """Copy a registered model's ONNX bytes into a models table, as Synapse's wizard does.

        Args:
            model: ``name:version`` (``name`` for its latest version).
            models_table: the lake table of models (``id`` = ``name:version``, ``name``,
                ``version``, ``model``, ``description``, ``created_at``, ``sha256``); made on
                the first deploy. Deploying a version already there changes nothing.
            table: with ``procedure``, the lake table the saved procedure scores.
            procedure: the scoring procedure's name (run it with ``exec``).
            output_column: the prediction's column (default: the model output's name).
            materialize: a lake table the procedure also overwrites with its result.
            description: the row's description (default: the registered model's).

        Raises:
            NotFoundError: no such model, version or table.
            InvalidInputError: a model without ONNX, or options that need one another.
            ConflictError: that version is in the table with other bytes.

        Example:
            >>> ml_client.sql.deploy_model(  # doctest: +SKIP
            ...     "rental-prediction-model:1", table="weather_forecast",
            ...     procedure="predict_rentals", output_column="predicted_rentals")
            >>> ml_client.sql.exec("predict_rentals").to_pandas()  # doctest: +SKIP
        """
        return self._sql.deploy_model(
            model, models_table=models_table, table=table, procedure=procedure,
            output_column=output_column, materialize=materialize, description=description,
        )

    def close(self) -> None:
        """Close the SQL engine (a later call opens a new one)."""
        if self._service is not None:
            self._service.close()
            self._service = None
