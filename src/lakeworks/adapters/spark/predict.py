"""Scoring in Spark: ``PREDICT`` as SQL functions and as a DataFrame column, through Arrow.

Owns how Spark calls a model: scalar Arrow UDFs (one pyarrow batch per call, as many rows as
``spark.sql.execution.arrow.maxRecordsPerBatch``), binding their arguments to the model's
columns, shipping a model's bytes once per executor (a broadcast on classic sessions, the
UDF's closure on Spark Connect), re-resolving a model named in SQL once per stage (so a new
``latest`` version is seen by the next query, not halfway through one), and turning
predictions into Arrow arrays. It knows neither the registry nor ONNX: the entry point hands
it loaders returning a ``PredictorLike`` (``services.scoring.Predictor``).

Spark gives a Python function the values of its arguments, not their SQL text, so a column
passed as ``PREDICT('m', temp, hum)`` arrives without its name. The forms that carry names are
bound by name: a struct (``struct(*)``, ``struct(temp, hum)``, ``named_struct('temp', t)``)
and named arguments (``PREDICT('m', temp => temp, hum => t2)``). Plain columns (and ``*``)
are bound by position in the model's input order, as Synapse's PREDICT does, and must be
exactly as many as the model's inputs.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import TaskContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.functions import arrow_udf

from lakeworks.errors import InvalidInputError

Output = Literal["prediction", "label", "probabilities"]

#: The SQL functions every Lakeworks session has: name -> (what it returns, Spark type).
SQL_FUNCTIONS: dict[str, tuple[Output, str]] = {
    "PREDICT": ("prediction", "double"),
    "PREDICT_LABEL": ("label", "string"),
    "PREDICT_PROBA": ("probabilities", "map<string,double>"),
}
_SPARK_TYPES = {"string": "string", "long": "bigint", "double": "double", "boolean": "boolean"}


class PredictorLike(Protocol):
    """What scoring needs of a model (``services.scoring.Predictor`` is one)."""

    model: str

    @property
    def columns(self) -> list[str]: ...

    @property
    def is_classifier(self) -> bool: ...

    @property
    def label_type(self) -> str: ...

    @property
    def classes(self) -> list[Any]: ...

    def describe_inputs(self) -> str: ...

    def check_columns(self, available: Sequence[str], *, where: str) -> None: ...

    def score(
        self, columns: Mapping[str, Any], *, probabilities: bool = False
    ) -> tuple[Any, Any]: ...


#: model reference (as written in SQL) -> predictor; runs in Python workers
ModelLoader = Callable[[str], PredictorLike]
#: (ONNX bytes, model name for messages) -> predictor; runs in Python workers
ContentOpener = Callable[[bytes, str], PredictorLike]

# per Python worker process: a model named in SQL, resolved once per (scope, name, stage)
_RESOLVED: dict[tuple[str, str], tuple[int, PredictorLike]] = {}
# per Python worker process: a model shipped by content, opened once per content hash
_OPENED: dict[str, PredictorLike] = {}
# on the driver: the broadcasts of each classic session, by content hash
_SHIPPED: weakref.WeakKeyDictionary[SparkSession, dict[str, ModelShipment]] = (
    weakref.WeakKeyDictionary())


def register_predict_functions(spark: SparkSession, loader: ModelLoader, *, scope: str) -> None:
    """Register ``PREDICT``, ``PREDICT_LABEL`` and ``PREDICT_PROBA`` in ``spark``.

    Args:
        spark: the session.
        loader: turns a model reference into a predictor, in the Python workers.
        scope: what the loader resolves in (the workspace folder): part of the cache key.
    """
    for name, (output, spark_type) in SQL_FUNCTIONS.items():
        spark.udf.register(name, _vectorised(_sql_function(loader, scope, output), spark_type))


def _vectorised(function: Callable[..., pa.Array], return_type: str) -> Any:
    """A scalar Arrow UDF (its kind read from ``function``'s type hints: pa.Array in/out)."""
    # PySpark's stubs list only the forms with an explicit function type, which warns
    return arrow_udf(function, return_type)  # type: ignore[call-overload]


def _sql_function(loader: ModelLoader, scope: str, output: Output) -> Callable[..., pa.Array]:
    def predict(model: pa.Array, *columns: pa.Array, **named: pa.Array) -> pa.Array:
        reference = _model_reference(model)
        predictor = _resolved(loader, scope, reference)
        bound = bind_arguments(predictor, reference, columns, named)
        return _sql_result(predictor, bound, output)

    return predict


def _stage() -> int:
    context = TaskContext.get()
    return context.stageId() if context is not None else -1


def _resolved(loader: ModelLoader, scope: str, reference: str) -> PredictorLike:
    stage = _stage()
    hit = _RESOLVED.get((scope, reference))
    if hit is not None and hit[0] == stage and stage >= 0:
        return hit[1]
    predictor = loader(reference)
    _RESOLVED[(scope, reference)] = (stage, predictor)
    return predictor


def _model_reference(model: pa.Array) -> str:
    names = pc.unique(model.drop_null()).to_pylist() if len(model) else []
    if model.null_count or len(names) > 1 or not names or not isinstance(names[0], str):
        raise InvalidInputError(
            "PREDICT's first argument must be one model name for the whole query, e.g. "
            f"PREDICT('rental-model', struct(*)) or 'rental-model:3'; got {names[:3]!r}"
            + (" and NULL" if model.null_count else ""), field="model")
    return str(names[0])


def bind_arguments(
    predictor: PredictorLike,
    reference: str,
    columns: Sequence[pa.Array],
    named: Mapping[str, pa.Array],
) -> dict[str, pa.Array]:
    """The model's columns from PREDICT's arguments (see the module docstring for the forms).

    Raises:
        InvalidInputError: no columns, both named and positional ones, a missing column (the
            message lists the model's inputs and the columns given), or positional columns
            not as many as the model's inputs.
    """
    if named and columns:
        raise InvalidInputError(
            f"PREDICT('{reference}', ...) mixes named and positional arguments; give the "
            f"columns either as struct(...), by name (temp => temp) or all by position",
            field="model")
    if named:
        given = dict(named)
    elif len(columns) == 1 and pa.types.is_struct(columns[0].type):
        struct = columns[0]
        fields = [struct.type.field(i).name for i in range(struct.type.num_fields)]
        given = dict(zip(fields, struct.flatten(), strict=True))
    elif columns and not any(pa.types.is_struct(c.type) for c in columns):
        return _by_position(predictor, reference, columns)
    else:
        raise InvalidInputError(
            f"PREDICT('{reference}', ...) needs the model's columns ({predictor.describe_inputs()})"
            f"; write PREDICT('{reference}', struct(*)) to bind a table's columns by name",
            field="model")
    predictor.check_columns(list(given), where="PREDICT's arguments")
    return given


def _by_position(
    predictor: PredictorLike, reference: str, columns: Sequence[pa.Array]
) -> dict[str, pa.Array]:
    wanted = predictor.columns
    if len(columns) != len(wanted):
        raise InvalidInputError(
            f"PREDICT('{reference}', ...) got {len(columns)} column(s) by position but model "
            f"'{predictor.model}' takes {len(wanted)}: {predictor.describe_inputs()}. Spark "
            "does not pass column names to Python functions, so plain columns are bound in "
            f"the model's order; to bind by name write PREDICT('{reference}', struct(*)) or "
            f"PREDICT('{reference}', struct({', '.join(wanted[:3])}, ...))", field="model")
    return dict(zip(wanted, columns, strict=True))


def _sql_result(predictor: PredictorLike, bound: Mapping[str, pa.Array], output: Output) -> pa.Array:
    if output == "label" and not predictor.is_classifier:
        raise InvalidInputError(
            f"PREDICT_LABEL: model '{predictor.model}' is a regressor; use PREDICT for its "
            "value", field="model")
    if output == "prediction" and predictor.label_type == "string":
        raise InvalidInputError(
            f"PREDICT returns DOUBLE but model '{predictor.model}' is a classifier with text "
            "labels; use PREDICT_LABEL (STRING) for the label or PREDICT_PROBA for the class "
            "probabilities", field="model")
    values, probabilities = predictor.score(bound, probabilities=output == "probabilities")
    if output == "probabilities":
        return probability_map(predictor, probabilities, pa.string())
    if output == "label":
        return pa.array(np.asarray(values).astype(str), pa.string())
    return pa.array(np.asarray(values, dtype=np.float64))


def probability_map(predictor: PredictorLike, probabilities: Any, key: pa.DataType) -> pa.Array:
    """``[rows, classes]`` probabilities as one map per row: class label -> probability.

    Raises:
        InvalidInputError: the model gives another number of probabilities than classes.
    """
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    rows, width = matrix.shape
    classes = predictor.classes
    if width != len(classes):
        raise InvalidInputError(
            f"model '{predictor.model}' gives {width} probabilities per row but declares "
            f"{len(classes)} class label(s) ({classes[:5]!r})", field="model")
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    labels = pa.array(classes).cast(key)
    keys = labels.take(pa.array(np.tile(np.arange(width), rows)))
    return pa.MapArray.from_arrays(offsets, keys, pa.array(matrix.ravel()))


# -- the DataFrame form: the model known on the driver -------------------------------------


@dataclass(frozen=True)
class ModelShipment:
    """A model's bytes as the workers get them: a broadcast (classic) or the bytes (Connect)."""

    digest: str
    model: str
    broadcast: Any = None
    content: bytes | None = None

    def payload(self) -> bytes:
        """The model's bytes (in a worker: the broadcast's value)."""
        if self.content is not None:
            return self.content
        value: bytes = self.broadcast.value
        return value


def ship_model(spark: SparkSession, content: bytes, *, model: str) -> ModelShipment:
    """Send ``content`` to the executors once: a broadcast on classic sessions (one per
    content and session, reused by later calls); on Spark Connect (no SparkContext) the bytes
    travel in the UDF, once per query."""
    digest = hashlib.sha256(content).hexdigest()
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        return ModelShipment(digest, model, content=content)
    shipped = _SHIPPED.setdefault(spark, {})
    if digest not in shipped:
        shipped[digest] = ModelShipment(digest, model,
                                        broadcast=spark.sparkContext.broadcast(content))
    return shipped[digest]


def _opened(shipment: ModelShipment, opener: ContentOpener) -> PredictorLike:
    found = _OPENED.get(shipment.digest)
    if found is None:
        found = _OPENED.setdefault(shipment.digest, opener(shipment.payload(), shipment.model))
    return found


def with_prediction(
    df: DataFrame,
    predictor: PredictorLike,
    shipment: ModelShipment,
    opener: ContentOpener,
    *,
    output_col: str,
    probability_col: str | None = None,
) -> DataFrame:
    """``df`` with the model's prediction appended (and its class probabilities if asked).

    The model's columns are found in ``df`` by name (case-insensitively) on the driver, so
    a missing one fails here, before any task runs.

    Raises:
        InvalidInputError: a missing column (listing the model's inputs and ``df``'s
            columns), or an output column ``df`` already has.
    """
    for name in (output_col, probability_col):
        if name is not None and name.lower() in {c.lower() for c in df.columns}:
            raise InvalidInputError(
                f"the DataFrame already has a column '{name}'; choose another output name",
                field="output_col" if name == output_col else "probability_col")
    predictor.check_columns(df.columns, where="the DataFrame")
    by_lower = {c.lower(): c for c in df.columns}
    data = F.struct(*[df[by_lower[c.lower()]].alias(c) for c in predictor.columns])
    label = _SPARK_TYPES.get(predictor.label_type, "string")
    if probability_col is None:
        udf = _vectorised(_column_function(shipment, opener, with_probabilities=False), label)
        return df.withColumn(output_col, udf(data))
    both = f"prediction {label}, probabilities map<{label},double>"
    udf = _vectorised(_column_function(shipment, opener, with_probabilities=True), both)
    scored = "__lakeworks_scored"
    out = df.withColumn(scored, udf(data))
    return out.select(*[df[c] for c in df.columns],
                      _field(scored, "prediction").alias(output_col),
                      _field(scored, "probabilities").alias(probability_col))


def _field(struct: str, name: str) -> Column:
    return F.col(struct).getField(name)


def _column_function(
    shipment: ModelShipment, opener: ContentOpener, *, with_probabilities: bool
) -> Callable[[pa.Array], pa.Array]:
    def predict(data: pa.Array) -> pa.Array:
        predictor = _opened(shipment, opener)
        fields = [data.type.field(i).name for i in range(data.type.num_fields)]
        columns = dict(zip(fields, data.flatten(), strict=True))
        values, probabilities = predictor.score(columns, probabilities=with_probabilities)
        labels = _typed(values, predictor.label_type)
        if not with_probabilities:
            return labels
        maps = probability_map(predictor, probabilities, labels.type)
        return pa.StructArray.from_arrays([labels, maps], names=["prediction", "probabilities"])

    return predict


def _typed(values: Any, label_type: str) -> pa.Array:
    array = np.asarray(values)
    if label_type == "string":
        return pa.array(array.astype(str), pa.string())
    if label_type == "long":
        return pa.array(array.astype(np.int64))
    if label_type == "boolean":
        return pa.array(array.astype(bool))
    return pa.array(array.astype(np.float64))
