"""The models a worker serves: ONNX graphs, MLflow pyfunc folders and users' scoring scripts.

Owns loading each kind of ``DeploymentRuntime`` and calling it:

* ``onnx``: one ONNX Runtime session over ``onnx_path`` with one intra-op thread (the server
  runs one worker process per instance). A graph with one ``[-1, k]`` input reads rows of
  ``k`` features; a graph with one input per column (AutoML exports, whose
  ``lakeworks.columns`` metadata names the raw column each input reads) reads named columns.
  Outputs keep their graph names; the prediction is the ``label`` output of a classifier or
  the first output of a regressor; a ZipMap's list of maps becomes a ``[rows, classes]``
  array.
* ``mlflow``: ``mlflow.pyfunc.load_model(model_path)``; a column signature reads named
  columns (a DataFrame goes to ``predict``), a tensor signature (or a scikit-learn model fitted
  on a bare array, as the production tutorial's is) reads rows as a numpy array.
* ``script``: ``code_dir/scoring_script`` imported as a module with ``code_dir`` on
  ``sys.path``; ``init()`` once, ``run(raw_data)`` per request with the raw body as text.

``ModelInfo`` is what a worker reports when ready (the front serves it as V2 model metadata
and builds the OpenAPI document from it): inputs and outputs with V2 datatypes, the input
columns when known, and the MLflow signature when there is one. Client mistakes found while
calling a model raise ``InvalidInputError`` (a 400); anything else is the model's failure.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lakeworks.core.endpoints import DeploymentRuntime
from lakeworks.errors import InvalidInputError
from lakeworks.serving.schema import InputSchema, ModelAnswer, TensorSpec, datatype_of

_META_COLUMNS = "lakeworks.columns"
_CLASS_LABELS = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
#: ONNX element types as V2 datatypes.
_ONNX_TYPES = {
    "tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(float16)": "FP16",
    "tensor(int64)": "INT64", "tensor(int32)": "INT32", "tensor(int16)": "INT16",
    "tensor(int8)": "INT8", "tensor(uint8)": "UINT8", "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}
#: MLflow column types as V2 datatypes.
_MLFLOW_TYPES = {
    "double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL",
    "string": "BYTES", "binary": "BYTES", "datetime": "BYTES",
}
PREDICTION = "prediction"


@dataclass(frozen=True)
class ModelInfo:
    """What a ready worker serves (the body of its READY frame)."""

    name: str
    version: str | None
    platform: str  # "onnxruntime" | "mlflow" | "script"
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    columns: tuple[str, ...] | None = None
    signature: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "platform": self.platform,
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
            "columns": list(self.columns) if self.columns is not None else None,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelInfo:
        """A ``ModelInfo`` from a READY body (unknown keys are ignored)."""
        def specs(items: Any) -> tuple[TensorSpec, ...]:
            return tuple(TensorSpec(i["name"], i["datatype"], tuple(i["shape"]))
                         for i in items or ())
        columns = data.get("columns")
        return cls(name=data["name"], version=data.get("version"), platform=data["platform"],
                   inputs=specs(data.get("inputs")), outputs=specs(data.get("outputs")),
                   columns=tuple(columns) if columns is not None else None,
                   signature=data.get("signature"))


class TabularModel(Protocol):
    """A model scored on parsed input (ONNX or MLflow)."""

    info: ModelInfo
    schema: InputSchema
    classes: list[Any] | None

    def predict(self, feed: dict[str, np.ndarray], *, frame: bool,
                params: dict[str, Any] | None) -> ModelAnswer: ...


# -- ONNX ---------------------------------------------------------------------------------------


class OnnxModel:
    """An ONNX graph under ONNX Runtime (one intra-op thread).

    Raises:
        InvalidInputError: the file is missing or ONNX Runtime cannot load it.
    """

    def __init__(self, path: str | Path, *, name: str, version: str | None) -> None:
        import onnxruntime as ort

        file = Path(path)
        if not file.is_file():
            raise InvalidInputError(f"the ONNX model file '{file}' does not exist",
                                    field="onnx_path")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(file), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types
            raise InvalidInputError(f"ONNX Runtime cannot load '{file}': {_first_line(exc)}",
                                    field="onnx_path") from exc
        self.schema = self._schema()
        graph_outputs = self.session.get_outputs()
        self._output_names = [o.name for o in graph_outputs]
        self._zipmap = {o.name for o in graph_outputs if o.type.startswith("seq(map")}
        self.classes = _onnx_classes(file)
        self.main = _main_output(self._output_names, [o.type for o in graph_outputs])
        # the session's C++ ``run``: the Python wrapper re-checks every feed on each call,
        # which costs as much as scoring one row of a small tree model
        native = getattr(self.session, "_sess", None)
        self._run = native.run if native is not None and hasattr(native, "run") else (
            self.session.run)
        outputs = tuple(self._output_spec(o.name, o.type, o.shape) for o in graph_outputs)
        self.info = ModelInfo(name=name, version=version, platform="onnxruntime",
                              inputs=self.schema.inputs, outputs=outputs,
                              columns=self.schema.columns)

    def _schema(self) -> InputSchema:
        graph_inputs = self.session.get_inputs()
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            entries = json.loads(meta.get(_META_COLUMNS, "[]"))
            mapping = {e["input"]: e["column"] for e in entries}
        except (ValueError, TypeError, KeyError):
            mapping = {}
        specs = tuple(TensorSpec(i.name, _ONNX_TYPES.get(i.type, "FP32"), _dims(i.shape))
                      for i in graph_inputs)
        if len(specs) == 1 and len(specs[0].shape) == 2 and not mapping:
            return InputSchema("wide", specs, None)
        if all(len(s.shape) <= 1 or (len(s.shape) == 2 and s.shape[1] == 1) for s in specs):
            columns = tuple(mapping.get(s.name, s.name) for s in specs)
            return InputSchema("columns", specs, columns)
        return InputSchema("tensors", specs, None)

    def _output_spec(self, name: str, onnx_type: str, shape: Any) -> TensorSpec:
        if name in self._zipmap:
            return TensorSpec(name, "FP64", (-1, len(self.classes or ()) or -1))
        dims = _dims(shape)
        if len(dims) == 2 and dims[1] == 1:
            dims = dims[:1]
        return TensorSpec(name, _ONNX_TYPES.get(onnx_type, "BYTES"), dims)

    def predict(self, feed: dict[str, np.ndarray], *, frame: bool = False,
                params: dict[str, Any] | None = None) -> ModelAnswer:
        """One ONNX Runtime call over ``feed``.

        Raises:
            InvalidInputError: ONNX Runtime refused the input's shapes or values.
        """
        try:
            raw = self._run(self._output_names, feed, None)
        except Exception as exc:  # onnxruntime's own exception types
            if type(exc).__name__ in ("InvalidArgument", "InvalidGraph"):
                raise InvalidInputError(f"the model refused the input: {_first_line(exc)}",
                                        field="input") from exc
            raise
        outputs: dict[str, np.ndarray] = {}
        for name, value in zip(self._output_names, raw, strict=True):
            if name in self._zipmap:
                value = _zipmap_array(value)
            elif value.ndim == 2 and value.shape[1] == 1:
                value = value.ravel()
            outputs[name] = value
        return ModelAnswer(outputs, self.main)


def _dims(shape: Any) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (shape or ()))


def _main_output(names: list[str], types: list[str]) -> str:
    for name, kind in zip(names, types, strict=True):
        if "label" in name.lower() and kind.startswith("tensor"):
            return name
    return names[0]


def _zipmap_array(value: Any) -> np.ndarray:
    if not value:
        return np.empty((0, 0))
    keys = sorted(value[0])
    return np.asarray([[row[k] for k in keys] for row in value], dtype=np.float64)


def _onnx_classes(file: Path) -> list[Any] | None:
    """A classifier's class labels in probability order (``None`` if the graph has none)."""
    try:
        import onnx
    except ImportError:
        return None
    graph = onnx.load(str(file), load_external_data=False).graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_LABELS:
                values = onnx.helper.get_attribute_value(attribute)
                labels = [v.decode() if isinstance(v, bytes) else int(v) for v in values]
                zipmap = any(n.op_type == "ZipMap" for n in graph.node)
                return sorted(labels) if zipmap else labels
    return None


# -- MLflow -------------------------------------------------------------------------------------


class MlflowModel:
    """An MLflow model folder through ``mlflow.pyfunc``.

    Raises:
        InvalidInputError: not an MLflow folder or MLflow cannot load it (says why).
    """

    def __init__(self, path: str | Path, *, name: str, version: str | None) -> None:
        import mlflow.pyfunc

        folder = Path(path)
        if not (folder / "MLmodel").is_file():
            raise InvalidInputError(f"'{folder}' is not an MLflow model folder (no MLmodel "
                                    "file)", field="model_path")
        try:
            self.model = mlflow.pyfunc.load_model(str(folder))
        except Exception as exc:  # any flavour's loader: missing packages, bad pickles...
            raise InvalidInputError(f"MLflow cannot load the model in '{folder}': "
                                    f"{_first_line(exc)}", field="model_path") from exc
        signature = self.model.metadata.signature
        self.schema = _mlflow_schema(signature) if signature is not None else self._raw_schema()
        self.classes = _raw_classes(self.model)
        outputs: tuple[TensorSpec, ...] = (TensorSpec(PREDICTION, "FP64", (-1,)),)
        described = None
        if signature is not None:
            described = {"inputs": _schema_json(signature.inputs),
                         "outputs": _schema_json(signature.outputs),
                         "params": _schema_json(signature.params)}
            if signature.outputs is not None and signature.outputs.inputs:
                outputs = (TensorSpec(PREDICTION, _mlflow_datatype(signature.outputs.inputs[0]),
                                      (-1,)),)
        self.info = ModelInfo(name=name, version=version, platform="mlflow",
                              inputs=self.schema.inputs, outputs=outputs,
                              columns=self.schema.columns, signature=described)

    def _raw_schema(self) -> InputSchema:
        """Without a signature: rows of ``n_features_in_`` numbers for a scikit-learn model
        fitted on a bare array; otherwise whatever the request holds."""
        try:
            raw = self.model.get_raw_model()
        except Exception:  # flavours without a raw model: the request's structure goes as is
            return InputSchema("any")
        width = getattr(raw, "n_features_in_", None)
        if isinstance(width, int) and not hasattr(raw, "feature_names_in_"):
            return InputSchema("wide", (TensorSpec("input", "FP64", (-1, width)),), None)
        return InputSchema("any")

    def predict(self, feed: dict[str, np.ndarray], *, frame: bool,
                params: dict[str, Any] | None) -> ModelAnswer:
        """``predict`` over ``feed`` (a DataFrame for columns, numpy for tensors).

        Raises:
            InvalidInputError: MLflow's schema check or the model refused the input.
        """
        data = self._input(feed, frame)
        try:
            result = (self.model.predict(data, params=params) if params
                      else self.model.predict(data))
        except Exception as exc:  # the model's own code and MLflow's schema enforcement
            if _client_mistake(exc):
                raise InvalidInputError(f"the model could not score the input: "
                                        f"{_first_line(exc)}", field="input") from exc
            raise
        return _answer(result)

    def _input(self, feed: dict[str, np.ndarray], frame: bool) -> Any:
        layout = self.schema.layout
        if layout == "columns" or (layout == "any" and frame):
            import pandas as pd

            return pd.DataFrame({k: (v.ravel() if v.ndim == 2 else v) for k, v in feed.items()})
        if len(feed) == 1:
            return next(iter(feed.values()))
        return feed


def _mlflow_schema(signature: Any) -> InputSchema:
    schema = signature.inputs
    specs = schema.inputs
    if schema.is_tensor_spec():
        tensors = tuple(TensorSpec(s.name or ("input" if len(specs) == 1 else f"input-{n}"),
                                   _mlflow_datatype(s), tuple(int(d) for d in s.shape))
                        for n, s in enumerate(specs))
        if len(tensors) == 1 and len(tensors[0].shape) == 2:
            return InputSchema("wide", tensors, None)
        return InputSchema("tensors", tensors, None)
    columns = tuple(str(s.name) for s in specs if s.name)
    if len(columns) != len(specs):  # unnamed columns: positional values
        width = len(specs)
        datatype = _mlflow_datatype(specs[0]) if specs else "FP64"
        return InputSchema("wide", (TensorSpec("input", datatype, (-1, width)),), None)
    return InputSchema("columns", tuple(TensorSpec(c, _mlflow_datatype(s), (-1,))
                                        for c, s in zip(columns, specs, strict=True)), columns)


def _mlflow_datatype(spec: Any) -> str:
    kind = getattr(spec, "type", None)
    name = getattr(kind, "name", None)
    if isinstance(name, str) and not isinstance(kind, np.dtype):  # an MLflow DataType
        return _MLFLOW_TYPES.get(name, "BYTES")
    try:
        dtype = np.dtype(kind)
    except TypeError:
        return "BYTES"
    return datatype_of(np.empty(0, dtype=dtype))


def _schema_json(schema: Any) -> Any:
    if schema is None:
        return None
    return schema.to_dict()


def _raw_classes(model: Any) -> list[Any] | None:
    try:
        classes = getattr(model.get_raw_model(), "classes_", None)
    except Exception:  # flavours without a raw model
        return None
    return [c.item() if isinstance(c, np.generic) else c for c in classes] if (
        classes is not None) else None


def _client_mistake(exc: Exception) -> bool:
    code = getattr(exc, "error_code", None)
    if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
        return True
    return isinstance(exc, (ValueError, TypeError, KeyError)) and code is None


def _answer(result: Any) -> ModelAnswer:
    """``predict``'s result as named output arrays."""
    columns = getattr(result, "columns", None)
    if columns is not None and hasattr(result, "to_numpy"):  # a DataFrame
        if len(columns) == 1:
            return ModelAnswer({PREDICTION: result.iloc[:, 0].to_numpy()}, PREDICTION)
        return ModelAnswer({str(c): result[c].to_numpy() for c in columns}, None)
    if hasattr(result, "to_numpy"):  # a Series
        return ModelAnswer({PREDICTION: result.to_numpy()}, PREDICTION)
    if isinstance(result, dict):
        outputs = {str(k): np.asarray(v) for k, v in result.items()}
        if len(outputs) == 1:
            return ModelAnswer({PREDICTION: next(iter(outputs.values()))}, PREDICTION)
        return ModelAnswer(outputs, None)
    array = np.asarray(result)
    if array.ndim == 0:
        array = array.reshape(1)
    return ModelAnswer({PREDICTION: array}, PREDICTION)


# -- scoring scripts ----------------------------------------------------------------------------


class ScriptModel:
    """A user's scoring script: ``init()`` once, ``run(raw_data)`` per request.

    Raises:
        InvalidInputError: the script is missing or has no ``run`` function.
        Exception: whatever importing the script or its ``init()`` raised.
    """

    classes = None

    def __init__(self, code_dir: str | Path, scoring_script: str, *, name: str,
                 version: str | None) -> None:
        folder = Path(code_dir)
        script = folder / scoring_script
        if not script.is_file():
            raise InvalidInputError(f"the scoring script '{script}' does not exist",
                                    field="scoring_script")
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        module_name = Path(scoring_script).with_suffix("").as_posix().replace("/", ".")
        spec = importlib.util.spec_from_file_location(module_name, script)
        if spec is None or spec.loader is None:
            raise InvalidInputError(f"'{script}' cannot be imported as a Python module",
                                    field="scoring_script")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        run = getattr(module, "run", None)
        if not callable(run):
            raise InvalidInputError(f"the scoring script '{script}' has no run(raw_data) "
                                    "function; define init() and run(raw_data)",
                                    field="scoring_script")
        init = getattr(module, "init", None)
        if callable(init):
            init()
        self.run = run
        self.info = ModelInfo(name=name, version=version, platform="script")


ServingModel = OnnxModel | MlflowModel | ScriptModel


def load_model(runtime: DeploymentRuntime) -> ServingModel:
    """The model ``runtime`` describes, loaded and ready to score.

    Raises:
        InvalidInputError: a field the kind needs is missing, or its files cannot be loaded.
    """
    name = runtime.model_name or runtime.name
    version = runtime.model_version
    if runtime.kind == "onnx":
        if not runtime.onnx_path:
            raise InvalidInputError("an onnx deployment needs onnx_path", field="onnx_path")
        return OnnxModel(runtime.onnx_path, name=name, version=version)
    if runtime.kind == "mlflow":
        path = runtime.model_path or runtime.model_dir
        if not path:
            raise InvalidInputError("an mlflow deployment needs model_path", field="model_path")
        return MlflowModel(_mlflow_folder(Path(path)), name=name, version=version)
    if runtime.kind == "script":
        if not runtime.code_dir or not runtime.scoring_script:
            raise InvalidInputError("a script deployment needs code_dir and scoring_script",
                                    field="code_dir")
        return ScriptModel(runtime.code_dir, runtime.scoring_script, name=name,
                           version=version)
    raise InvalidInputError(f"deployment kind {runtime.kind!r} is unknown", field="kind",
                            allowed=("onnx", "mlflow", "script"))


def _mlflow_folder(path: Path) -> Path:
    """``path`` if it holds ``MLmodel``, else the only folder below it that does (a model
    registered as a folder around its MLflow model, e.g. ``model/`` or ``trained_model/``)."""
    if (path / "MLmodel").is_file() or not path.is_dir():
        return path
    found = sorted(p.parent for p in path.rglob("MLmodel"))
    return found[0] if len(found) == 1 else path


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


__all__ = ["MlflowModel", "ModelInfo", "OnnxModel", "ScriptModel", "ServingModel",
           "TabularModel", "load_model"]
