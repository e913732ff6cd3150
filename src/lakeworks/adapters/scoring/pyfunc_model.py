"""MLflow models without ONNX, scored through their ``python_function`` flavour.

Owns opening an MLflow model folder (its ``MLmodel``), saying why it cannot be scored here
(not an MLflow folder, no ``python_function`` flavour, a loader that fails, with the reason),
and the same surface as ``onnx_model.OnnxModel`` so that SQL and Spark treat both alike:
``inputs`` (the signature's columns, with MLflow's types written as ONNX tensor types:
``double`` is ``tensor(double)``), ``outputs`` (one, ``prediction``), ``columns``,
``missing``, ``output`` and ``score`` over Arrow columns (cast to the signature's types, given
to ``predict`` as a pandas frame). Slower than ONNX (a frame per batch, Python under the GIL).
Must not know where models are stored nor which engine calls it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lakeworks.adapters.scoring.onnx_model import ModelInput, ModelOutput
from lakeworks.errors import InvalidInputError

PYFUNC_FLAVOR = "python_function"
PREDICTION = "prediction"

#: MLflow signature types as the ONNX tensor types ``OnnxModel`` reports, and their Arrow type
_TYPES: dict[str, tuple[str, pa.DataType]] = {
    "double": ("tensor(double)", pa.float64()), "float": ("tensor(float)", pa.float32()),
    "long": ("tensor(int64)", pa.int64()), "integer": ("tensor(int32)", pa.int32()),
    "boolean": ("tensor(bool)", pa.bool_()), "string": ("tensor(string)", pa.string()),
}
_NUMPY_KINDS = {"f": "double", "i": "long", "u": "long", "b": "boolean", "U": "string",
                "O": "string", "S": "string"}


def _spec_type(spec: Any) -> str:
    """The MLflow type name of a signature entry (a column or a tensor spec)."""
    kind = getattr(spec, "type", None)
    if kind is None:
        return "double"
    name = getattr(kind, "name", None)
    if isinstance(name, str):
        return name if name in _TYPES else "double"
    dtype = np.dtype(kind)
    if dtype == np.float32:
        return "float"
    return _NUMPY_KINDS.get(dtype.kind, "double")


class PyfuncModel:
    """An MLflow model folder ready to score columns through ``mlflow.pyfunc``.

    Args:
        path: the folder holding ``MLmodel``.

    Raises:
        InvalidInputError: not an MLflow model, no ``python_function`` flavour, or MLflow
            cannot load it (the message says why).

    Example:
        >>> model = PyfuncModel("model-folder")  # doctest: +SKIP
        >>> model.columns, model.outputs[0].onnx_type  # doctest: +SKIP
        (['temp', 'hum'], 'tensor(double)')
        >>> model.score({"temp": pa.array([0.3]), "hum": pa.array([0.5])})  # doctest: +SKIP
        {'prediction': array([1234.5])}
    """

    def __init__(self, path: str | Path) -> None:
        folder = Path(path)
        if not (folder / "MLmodel").is_file():
            raise InvalidInputError(f"'{folder}' is not an MLflow model folder (no MLmodel "
                                    "file)", field="model")
        from mlflow.models import Model

        meta = Model.load(str(folder))
        if PYFUNC_FLAVOR not in meta.flavors:
            raise InvalidInputError(
                f"the MLflow model has no {PYFUNC_FLAVOR} flavour (its flavours: "
                f"{', '.join(sorted(meta.flavors)) or 'none'}), so Python cannot score it",
                field="model")
        signature = meta.signature
        self.inputs: list[ModelInput] = []
        output = "double"
        if signature is not None:
            for spec in signature.inputs.inputs:
                name = getattr(spec, "name", None)
                if name:
                    onnx_type = _TYPES[_spec_type(spec)][0]
                    self.inputs.append(ModelInput(name, name, onnx_type, 1))
            if signature.outputs is not None and signature.outputs.inputs:
                output = _spec_type(signature.outputs.inputs[0])
        self.outputs = [ModelOutput(PREDICTION, _TYPES[output][0])]
        self.digest = _folder_hash(folder)
        self._model = _load(folder)

    @property
    def columns(self) -> list[str]:
        """The input columns its signature names, in order (empty without a signature)."""
        return [i.column for i in self.inputs]

    @property
    def classes(self) -> list[Any]:
        """Class labels are not known for pyfunc models (``predict`` gives labels only)."""
        return []

    def missing(self, available: Sequence[str]) -> list[str]:
        """The signature's columns absent from ``available`` (matched case-insensitively)."""
        have = {c.lower() for c in available}
        return [c for c in self.columns if c.lower() not in have]

    def output(self, name: str) -> ModelOutput:
        """The output called ``name``; only ``prediction`` exists.

        Raises:
            InvalidInputError: another name (the error lists the real output).
        """
        if name.lower() == PREDICTION:
            return self.outputs[0]
        raise InvalidInputError(
            f"the model has no output '{name}'; its outputs are {PREDICTION} "
            f"({self.outputs[0].onnx_type}) (an MLflow pyfunc model has one)", field=name)

    def score(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``predict`` over ``columns`` (name -> Arrow array, numpy array or list).

        With a signature, its columns are taken (case-insensitively) and cast to its types;
        without one, every column given is passed as is.

        Raises:
            InvalidInputError: a missing or uncastable column, or the model refused the rows
                (MLflow's schema check or the model's own code), with its message.
        """
        frame = self._frame(columns).to_pandas()
        try:
            result = self._model.predict(frame)
        except Exception as exc:  # the model's own code
            raise InvalidInputError(f"the MLflow model could not score the rows "
                                    f"({_first_line(exc)})", field="model") from exc
        values = result.to_numpy() if hasattr(result, "to_numpy") else np.asarray(result)
        if values.ndim == 2:
            values = values[:, 0]
        return {PREDICTION: np.asarray(values)}

    def _frame(self, columns: Mapping[str, Any]) -> pa.Table:
        if not self.inputs:
            return pa.table({name: _array(value) for name, value in columns.items()})
        missing = self.missing(list(columns))
        if missing:
            wanted = ", ".join(f"{i.column} ({i.onnx_type[7:-1]})" for i in self.inputs)
            raise InvalidInputError(
                f"the data lacks the model's input column(s) {', '.join(missing)}; the model "
                f"takes {wanted} and the data has {', '.join(columns) or 'no columns'}",
                field=missing[0])
        by_lower = {name.lower(): value for name, value in columns.items()}
        arrays = {}
        for model_input in self.inputs:
            target = next(t for o, t in _TYPES.values() if o == model_input.onnx_type)
            array = _array(by_lower[model_input.column.lower()])
            try:
                arrays[model_input.column] = array.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidInputError(
                    f"column '{model_input.column}' ({array.type}) cannot be cast to "
                    f"{model_input.onnx_type[7:-1]} for the model: {exc}",
                    field=model_input.column) from exc
        return pa.table(arrays)


def _load(folder: Path) -> Any:
    import mlflow.pyfunc

    try:
        return mlflow.pyfunc.load_model(str(folder))
    except Exception as exc:  # any flavour's loader: missing packages, bad pickles...
        raise InvalidInputError(
            f"MLflow cannot load the model's {PYFUNC_FLAVOR} flavour here ({_first_line(exc)})",
            field="model") from exc


def _folder_hash(folder: Path) -> str:
    """A hash of the folder's files (names and bytes): the model's identity."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _array(value: Any) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    return value if isinstance(value, pa.Array) else pa.array(value)
