"""Models in the database, as Synapse's "Predict with a model" wizard puts them there.

Owns ``deploy-model``: copying a registered model's ONNX bytes into a lake table (default
``models``; columns ``id`` = ``name:version``, ``name``, ``version``, ``model`` (binary),
``description``, ``created_at``, ``sha256``), so DuckDB and Spark both read it; deploying a
version already there is a no-op (one with other bytes is a conflict), and the row is written
by one Delta merge on ``id``. With a data table and a procedure name it also saves the
wizard's scoring procedure: the table's rows, each model input cast to its type, scored by
the model read from the models table (its id a parameter, ``@model``, defaulting to the
deployed version), returning the table's columns and the prediction, and optionally writing
them to a lake table too. The SQL of the procedure is the ``sql_predict`` adapter's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from lakeworks.core.assets import ModelSpec
from lakeworks.core.lake import TableName, parse_table_name, validate_identifier
from lakeworks.core.predict import ONNX_SQL_TYPES, PredictOutput, ScoringProcedure
from lakeworks.core.refs import AssetKind
from lakeworks.core.sql import declare_parameter, procedure_name
from lakeworks.errors import ConflictError, InvalidInputError
from lakeworks.services.assets import AssetService
from lakeworks.services.scoring import resolve_model
from lakeworks.services.sql_procedures import save_procedure

if TYPE_CHECKING:
    from lakeworks.services.sql import SqlService

#: the models table's default name, and the procedure parameter naming the model's row
MODELS_TABLE = "models"
MODEL_PARAMETER = "model"

MODELS_SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field("name", pa.string()),
    pa.field("version", pa.string()), pa.field("model", pa.binary()),
    pa.field("description", pa.string()),
    pa.field("created_at", pa.timestamp("us", tz="UTC")), pa.field("sha256", pa.string()),
])


@dataclass(frozen=True)
class DeployedModel:
    """What ``deploy_model`` did: the row (``id``), whether it was written now, and the
    procedure saved (if any)."""

    id: str
    name: str
    version: str
    sha256: str
    models_table: str
    deployed: bool  # False: that version was already in the table
    procedure: str | None = None
    table: str | None = None
    output_column: str | None = None
    materialize: str | None = None


def deploy_model(
    sql: SqlService,
    model: str,
    *,
    models_table: str = MODELS_TABLE,
    table: str | None = None,
    procedure: str | None = None,
    output_column: str | None = None,
    materialize: str | None = None,
    description: str | None = None,
) -> DeployedModel:
    """Copy a registered model's ONNX bytes into ``models_table``; optionally save the
    wizard's scoring procedure over ``table``.

    Args:
        sql: the SQL service (its lake, catalog and engine).
        model: ``name:version`` (or ``name`` for the latest version).
        models_table: the lake table holding models (created on the first deploy).
        table: the lake table the procedure scores (needs ``procedure``).
        procedure: the procedure's name (needs ``table``).
        output_column: the prediction's column name (default: the model output's name).
        materialize: a lake table the procedure also writes its result to (overwritten).
        description: the row's description (default: the registered model's).

    Returns:
        The row's id, whether it was written now, and the procedure saved.

    Raises:
        NotFoundError: no such model, version or data table.
        InvalidInputError: a model without ONNX (MLflow pyfunc models score from the
            registry with ``PREDICT('name:version', ...)`` instead), bad names, options
            that need one another, or a table lacking the model's input columns.
        ConflictError: that id is in the table with other bytes.
    """
    if (table is None) != (procedure is None):
        raise InvalidInputError("give both --table and --procedure to save a scoring "
                                "procedure (or neither to deploy the model only)")
    if procedure is None and (output_column or materialize):
        raise InvalidInputError("--output-column and --materialize shape the procedure: "
                                "give --table and --procedure too")
    found = resolve_model(sql.ws, model)
    if found.onnx is None:
        raise InvalidInputError(
            f"model '{found.ref}' has no ONNX graph, so it cannot be deployed to a models "
            "table (PREDICT(MODEL = ...) reads ONNX bytes); an MLflow model still scores "
            f"from the registry: SELECT PREDICT('{found.ref}', col, ...) FROM t", field="model")
    content = found.onnx.read_bytes()
    opened = sql.predictions.onnx(content, ref=f"model '{found.ref}'")
    target = parse_table_name(models_table)
    digest = hashlib.sha256(content).hexdigest()
    text = description if description is not None else _registered_description(sql, found.ref)
    row = pa.Table.from_pylist([{
        "id": found.ref, "name": found.name, "version": found.version, "model": content,
        "description": text, "created_at": datetime.now(UTC), "sha256": digest,
    }], schema=MODELS_SCHEMA)
    written = _store(sql, target, row)
    result = DeployedModel(found.ref, found.name, found.version, digest, str(target), written)
    if procedure is None or table is None:
        return result
    return _save_procedure(sql, result, opened.scorer, procedure, table, output_column,
                           materialize)


def _registered_description(sql: SqlService, ref: str) -> str | None:
    stored = AssetService(sql.ws).resolve(ref, AssetKind.MODEL).to_spec()
    return stored.description if isinstance(stored, ModelSpec) else None


def _store(sql: SqlService, target: TableName, row: pa.Table) -> bool:
    """Add ``row`` to the models table in one Delta commit; False when its id is there."""
    lake = sql.lake
    ident = row.column("id")[0].as_py()
    if str(target) in {str(r.qualified) for r in lake.list_tables(target.database)}:
        try:
            present = lake.read(str(target), columns=["id", "sha256"])
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"table {target} is not a models table ({exc.detail}); it needs the columns "
                f"{', '.join(MODELS_SCHEMA.names)}: pick another with --models-table") from exc
        same = present.filter(pc.equal(present.column("id"), ident))
        if same.num_rows:
            if same.column("sha256")[0].as_py() != row.column("sha256")[0].as_py():
                raise ConflictError(
                    f"{target} already holds model '{ident}' with other bytes; versions are "
                    "immutable: register a new version and deploy that")
            return False
    lake.merge(str(target), row, on=["id"])
    return True


def _save_procedure(
    sql: SqlService,
    deployed: DeployedModel,
    scorer: object,
    procedure: str,
    table: str,
    output_column: str | None,
    materialize: str | None,
) -> DeployedModel:
    name = procedure_name(procedure)
    data = sql.lake.table(table)  # NotFoundError lists the tables
    schema = sql.lake.store.schema(sql.lake.location(data))
    by_lower = {n.lower(): n for n in schema.names}
    inputs = [(i.column, ONNX_SQL_TYPES.get(i.onnx_type, "VARCHAR"))
              for i in getattr(scorer, "inputs", [])]
    missing = [c for c, _ in inputs if c.lower() not in by_lower]
    if missing:
        raise InvalidInputError(
            f"table {data.qualified} lacks the input column(s) {', '.join(missing)} of model "
            f"'{deployed.id}'; the model takes "
            f"{', '.join(f'{c} ({t})' for c, t in inputs)} and the table has "
            f"{', '.join(schema.names)}", field=missing[0])
    output = _main_output(scorer)
    column = validate_identifier(output_column or output.name, what="output column")
    spec = ScoringProcedure(
        models_table=parse_table_name(deployed.models_table), data_table=data.qualified,
        model_parameter=MODEL_PARAMETER,
        inputs=tuple((by_lower[c.lower()], t) for c, t in inputs), output=output,
        output_column=column,
        materialize=parse_table_name(materialize) if materialize else None,
    )
    body = sql.predictions.sql.scoring_procedure(spec)
    parameter = declare_parameter(MODEL_PARAMETER, "VARCHAR", deployed.id)
    save_procedure(
        sql.ws.metadata.catalog, sql.parser, name, body, (parameter,), replace=True,
        description=f"Scores {data.qualified} with model {deployed.id} from "
        f"{deployed.models_table} (lakeworks sql deploy-model)",
    )
    return DeployedModel(
        deployed.id, deployed.name, deployed.version, deployed.sha256, deployed.models_table,
        deployed.deployed, procedure=name, table=str(data.qualified), output_column=column,
        materialize=str(spec.materialize) if spec.materialize else None,
    )


def _main_output(scorer: object) -> PredictOutput:
    """The output the wizard reads: a classifier's label, else the first output."""
    outputs = list(getattr(scorer, "outputs", []))
    chosen = next((o for o in outputs if "label" in o.name.lower()), outputs[0])
    sql_type = ONNX_SQL_TYPES.get(chosen.onnx_type)
    if sql_type is None:
        raise InvalidInputError(f"output '{chosen.name}' ({chosen.onnx_type}) cannot be a "
                                "SQL column")
    return PredictOutput(chosen.name, sql_type)
