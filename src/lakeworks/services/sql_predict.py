"""``PREDICT`` in SQL: models resolved, scoring functions registered, statements rewritten.

Owns turning a statement's ``PREDICT`` uses (found by the statement parser) into SQL the
engine runs. Each use's model is resolved once per statement: a ``'name[:version]'`` literal
from the workspace registry, a parameter holding such a reference or the model's bytes, or a
scalar subquery over a models table (its BLOB). ONNX models are opened by the scorer adapter
(role ``onnx_scorer``); MLflow models without ONNX through their pyfunc flavour (role
``pyfunc_scorer``, slower). Inputs are bound by name: the clause's DATA columns (listed with
a query that returns no rows, so missing and uncastable columns are named before anything
runs), the function form's argument names, named arguments or a struct's fields. One engine
function is registered per model content and signature, and the ``sql_predict`` adapter
writes the statement that calls it. The resolved model per (name, version) and per content
hash, and the functions registered, are kept for the life of the engine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from lakeworks.core.predict import (
    BoundInput,
    BoundPredict,
    ModelSource,
    PredictCall,
    PredictClause,
    PredictUse,
)
from lakeworks.core.sql import excerpt
from lakeworks.errors import BackendError, InvalidInputError, LakeworksError, NotFoundError
from lakeworks.ports.lake import SqlEngine
from lakeworks.ports.sql import PredictSql
from lakeworks.services import adapter_registry
from lakeworks.services.scoring import resolve_model
from lakeworks.services.sql_scorers import (
    NUMERIC,
    SqlModel,
    call_result,
    call_scorer,
    clause_scorer,
    output_kind,
)
from lakeworks.services.workspace import Workspace

_UDF_PREFIX = "lw_predict_"
_MISSING_KEY = re.compile(r'Could not find key "([^"]+)" in struct')


class SqlPredictions:
    """Rewrites statements that use ``PREDICT`` for one SQL engine.

    Args:
        ws: the workspace whose model registry literals name.
        engine: gives the engine (opened lazily by the SQL service).

    Example:
        >>> predictions = SqlPredictions(ws, lambda: engine)  # doctest: +SKIP
        >>> predictions.query(statement.sql, statement.predictions, {})  # doctest: +SKIP
    """

    def __init__(self, ws: Workspace, engine: Callable[[], SqlEngine]) -> None:
        self.ws = ws
        self._engine = engine
        self.sql: PredictSql = adapter_registry.load("sql_predict")()
        self._registry: dict[tuple[str, str], SqlModel] = {}
        self._contents: dict[str, SqlModel] = {}
        self._functions: set[str] = set()
        self._failures: list[LakeworksError] = []

    def reset(self) -> None:
        """Forget the functions registered (the engine was closed); models stay cached."""
        self._functions.clear()

    # -- running -------------------------------------------------------------------------

    def query(
        self, sql: str, uses: Sequence[PredictUse], values: Mapping[str, Any], *,
        shift: int = 0,
    ) -> pa.Table:
        """Run ``sql`` (a statement using ``uses``) with its models bound; the result.

        Args:
            sql: the statement's SQL (uses are offsets into it, plus ``shift``).
            uses: its PREDICT uses.
            values: the statement's parameter values.
            shift: added to each use's offsets (the statement's text starts elsewhere).

        Raises:
            InvalidInputError: a use that cannot be bound (missing or uncastable columns,
                unknown outputs, a model that cannot be used in SQL) or a failure scoring.
            NotFoundError: an unknown model or version, or a models-table row missing.
        """
        moved = [replace(u, start=u.start + shift, end=u.end + shift) for u in uses]
        bound = [self._bind(use, sql, values) for use in moved]
        text = self.sql.render(sql, bound)
        used = self.sql.parameters(text)
        self._failures.clear()
        try:
            return self._engine().query(text, {k: v for k, v in values.items() if k in used})
        except LakeworksError as exc:
            if self._failures:
                raise self._failures[0] from None
            raise self._translate(exc, bound) from None

    def _translate(self, exc: LakeworksError, bound: Sequence[BoundPredict]) -> LakeworksError:
        """A clearer error for what DuckDB says about a rewritten use."""
        if not isinstance(exc, InvalidInputError):
            return exc
        head = _head(exc.detail)
        for item in bound:
            use = item.use
            key = _MISSING_KEY.search(head)
            if isinstance(use, PredictCall) and any(i.field for i in item.inputs) and key:
                wanted = ", ".join(f"{i.field} ({i.sql_type})" for i in item.inputs)
                return InvalidInputError(
                    f"PREDICT({use.model.describe()}, {use.arguments[0].sql}): the row has no "
                    f"field '{key.group(1)}', an input of the model; the model takes {wanted}",
                    field=key.group(1), line=exc.line)
            if "when casting from source column" in head or "Unimplemented type for cast" in head:
                return InvalidInputError(
                    f"PREDICT({use.model.describe()}): a column cannot be cast to the "
                    f"model's input type: {head}; CAST it to the type named, or pass "
                    "another column", line=exc.line)
        return exc

    # -- models --------------------------------------------------------------------------

    def model(self, source: ModelSource, values: Mapping[str, Any]) -> SqlModel:
        """The model a PREDICT names, resolved and opened (cached).

        Raises:
            NotFoundError: an unknown model or version, or no models-table row.
            InvalidInputError: a bad reference, bytes that are not a model, or a model that
                cannot be used in SQL.
        """
        if source.kind == "literal":
            return self.registered(source.value)
        if source.kind == "parameter":
            value = values.get(source.value)
            if isinstance(value, bytes | bytearray | memoryview):
                return self.onnx(bytes(value), ref=f"@{source.value}")
            if isinstance(value, str):
                return self.registered(value)
            raise InvalidInputError(
                f"parameter @{source.value} must hold a model reference ('name:version') "
                f"or the model's bytes, not {type(value).__name__}", field=source.value)
        return self.onnx(self._subquery(source, values), ref=f"MODEL = {source.describe()}")

    def registered(self, reference: str) -> SqlModel:
        """A registry model (``name`` for its latest version, ``name:version``), cached per
        version.

        Raises:
            NotFoundError: no such model or version.
            InvalidInputError: a bad reference, or a model with neither ONNX nor a usable
                pyfunc flavour (the message says why).
        """
        found = resolve_model(self.ws, reference)
        key = (found.name, found.version)
        cached = self._registry.get(key)
        if cached is not None:
            return cached
        try:
            fmt = found.format
            if fmt == "onnx":
                assert found.onnx is not None
                model = self.onnx(found.onnx.read_bytes(), ref=found.ref)
            else:
                model = SqlModel(found.ref, adapter_registry.load("pyfunc_scorer")(found.path))
        except InvalidInputError as exc:
            reason = exc.detail.removeprefix(f"model '{found.ref}'").removeprefix(":").strip()
            reason = f"it {reason}" if reason.startswith("has ") else reason
            raise InvalidInputError(f"model '{found.ref}' cannot be used in SQL: {reason}",
                                    field="model") from exc
        self._registry[key] = model
        return model

    def onnx(self, content: bytes, *, ref: str) -> SqlModel:
        """An ONNX model from its bytes, cached per content hash.

        Raises:
            InvalidInputError: the bytes are not a usable ONNX model (names ``ref``).
        """
        digest = hashlib.sha256(content).hexdigest()
        cached = self._contents.get(digest)
        if cached is not None:
            return SqlModel(ref, cached.scorer)
        try:
            scorer = adapter_registry.load("onnx_scorer")(content, threads=1)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{ref}: {exc.detail}", field="model") from exc
        model = SqlModel(ref, scorer)
        self._contents[digest] = model
        return model

    def _subquery(self, source: ModelSource, values: Mapping[str, Any]) -> bytes:
        used = self.sql.parameters(source.value)
        where = f"MODEL = {source.describe()}"
        try:
            table = self._engine().query(source.value, {k: v for k, v in values.items()
                                                        if k in used})
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {_head(exc.detail)}") from None
        if table.num_columns != 1 or table.num_rows > 1:
            raise InvalidInputError(
                f"{where} must return one value (the model's bytes), not {table.num_rows} "
                f"row(s) of {table.num_columns} column(s)")
        if table.num_rows == 0:
            raise NotFoundError(
                f"{where} found no model (no row matched); deploy it with `lakeworks sql "
                "deploy-model --model NAME:VERSION`, or check the id")
        value = table.column(0)[0].as_py()
        if not isinstance(value, bytes):
            raise InvalidInputError(
                f"{where} must return the model's bytes (a BLOB column such as models.model), "
                f"got {table.schema.field(0).type}")
        return value

    # -- binding -------------------------------------------------------------------------

    def _bind(self, use: PredictUse, sql: str, values: Mapping[str, Any]) -> BoundPredict:
        try:
            model = self.model(use.model, values)
            if isinstance(use, PredictClause):
                return self._bind_clause(use, model, values)
            return self._bind_call(use, model)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"{exc.detail} (line {use.line}, column {use.column})\n\n"
                f"{excerpt(sql, use.line, use.column, len('PREDICT'))}",
                field=exc.field, line=use.line) from None

    def _bind_clause(
        self, use: PredictClause, model: SqlModel, values: Mapping[str, Any]
    ) -> BoundPredict:
        columns = self._data_columns(use, values)
        by_lower = {name.lower(): (name, kind) for name, kind in columns}
        missing = [c for c, _, _ in model.inputs if c.lower() not in by_lower]
        if missing:
            raise InvalidInputError(
                f"PREDICT: model '{model.ref}' needs input column(s) {', '.join(missing)} "
                f"that DATA lacks; the model takes {model.describe()} and DATA has "
                f"{', '.join(n for n, _ in columns) or 'no columns'}", field=missing[0])
        inputs = []
        for column, name, sql_type in model.inputs:
            actual, kind = by_lower[column.lower()]
            if not _castable(kind, sql_type):
                raise InvalidInputError(
                    f"PREDICT: column '{actual}' of DATA is {kind}, which cannot be cast to "
                    f"{sql_type} for input '{name}' of model '{model.ref}'; CAST it in DATA "
                    f"(DATA = (SELECT CAST(...) AS {actual}, ...)) or use another column",
                    field=actual)
            inputs.append(BoundInput(actual, sql_type))
        outputs = []
        for wanted in use.outputs:
            try:
                outputs.append(model.scorer.output(wanted.name))
            except InvalidInputError as exc:
                raise InvalidInputError(
                    f"PREDICT: WITH ({wanted.name} ...): model '{model.ref}': {exc.detail}",
                    field=wanted.name) from None
        kinds = [output_kind(model, o) for o in outputs]
        return_type = "STRUCT(" + ", ".join(f"o{k} {t}" for k, (t, _) in enumerate(kinds)) + ")"
        function = self._register(model, "clause:" + return_type,
                                  [i.sql_type for i in inputs], return_type,
                                  clause_scorer(model, outputs, kinds))
        return BoundPredict(use, function, tuple(inputs))

    def _data_columns(
        self, use: PredictClause, values: Mapping[str, Any]
    ) -> list[tuple[str, pa.DataType]]:
        probe = self.sql.probe(use)
        used = self.sql.parameters(probe)
        try:
            schema = self._engine().query(probe, {k: v for k, v in values.items()
                                                  if k in used}).schema
        except InvalidInputError as exc:
            raise InvalidInputError(f"PREDICT: DATA cannot be read: {_head(exc.detail)}") \
                from None
        return [(f.name, f.type) for f in schema]

    def _bind_call(self, use: PredictCall, model: SqlModel) -> BoundPredict:
        inputs = self._call_inputs(use, model)
        return_type, convert = call_result(model)
        function = self._register(model, "call:" + return_type,
                                  [i.sql_type for i in inputs], return_type,
                                  call_scorer(model, convert))
        return BoundPredict(use, function, tuple(inputs))

    def _call_inputs(self, use: PredictCall, model: SqlModel) -> list[BoundInput]:
        wanted = model.inputs
        if not wanted:
            raise InvalidInputError(
                f"PREDICT: model '{model.ref}' does not name its inputs (an MLflow model "
                "without a signature); log it with a signature to use it in SQL")
        by_lower = {c.lower(): (c, t) for c, _, t in wanted}
        args = use.arguments
        if not args:
            raise InvalidInputError(
                f"PREDICT({use.model.describe()}) needs the model's inputs as arguments: "
                f"{model.describe()}")
        first = args[0]
        if len(args) == 1 and not first.named and (
                first.name is None or (first.name.lower() not in by_lower and len(wanted) > 1)):
            return [BoundInput(0, t, field=c) for c, _, t in wanted]  # a row or a struct
        given: dict[str, int] = {}
        for index, arg in enumerate(args):
            if arg.name is None:
                raise InvalidInputError(
                    f"PREDICT: argument {index + 2} ({arg.sql}) has no name to bind it to a "
                    f"model input; write it as input := {arg.sql} (the model takes "
                    f"{model.describe()})")
            if arg.name.lower() not in by_lower:
                raise InvalidInputError(
                    f"PREDICT: argument '{arg.name}' is not an input of model '{model.ref}'; "
                    f"the model takes {model.describe()}", field=arg.name)
            if arg.name.lower() in given:
                raise InvalidInputError(f"PREDICT: input '{arg.name}' is given twice",
                                        field=arg.name)
            given[arg.name.lower()] = index
        missing = [c for c, _, _ in wanted if c.lower() not in given]
        if missing:
            names = ", ".join(a.name or a.sql for a in args)
            raise InvalidInputError(
                f"PREDICT: model '{model.ref}' needs input(s) {', '.join(missing)} that the "
                f"arguments lack; the model takes {model.describe()} and the arguments are "
                f"{names}", field=missing[0])
        return [BoundInput(given[c.lower()], t) for c, _, t in wanted]

    def _register(
        self, model: SqlModel, signature: str, arg_types: list[str], return_type: str,
        scorer: Callable[[Sequence[pa.Array]], pa.Array],
    ) -> str:
        key = hashlib.sha256(f"{model.scorer.digest}|{signature}".encode()).hexdigest()
        name = _UDF_PREFIX + key[:24]
        if name not in self._functions:
            self._engine().register_function(name, self._guarded(scorer, model.ref),
                                             arg_types, return_type)
            self._functions.add(name)
        return name

    def _guarded(
        self, scorer: Callable[[Sequence[pa.Array]], pa.Array], ref: str
    ) -> Callable[[Sequence[pa.Array]], pa.Array]:
        """``scorer`` with its failures kept, to be raised as they were after the query."""
        failures = self._failures

        def run(arrays: Sequence[pa.Array]) -> pa.Array:
            try:
                return scorer(arrays)
            except InvalidInputError as exc:
                failures.append(InvalidInputError(f"PREDICT with model '{ref}': {exc.detail}",
                                                  field=exc.field))
                raise
            except Exception as exc:  # the scorer's runtime (ONNX Runtime, MLflow)
                failures.append(BackendError(f"PREDICT with model '{ref}' failed while "
                                             f"scoring: {type(exc).__name__}: {exc}"))
                raise
        return run


def _head(detail: str) -> str:
    """An engine message without its position and excerpt."""
    return detail.split(" (line ", 1)[0].split("\n\nLINE ", 1)[0].strip()


def _castable(kind: pa.DataType, sql_type: str) -> bool:
    """Whether a column of Arrow type ``kind`` can be cast to the input's SQL type."""
    if pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
        return False
    if sql_type not in NUMERIC:
        return True
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind) or pa.types.is_boolean(kind)
                or pa.types.is_null(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind))
