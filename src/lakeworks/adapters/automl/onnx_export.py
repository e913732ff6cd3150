"""ONNX: exporting a fitted AutoML pipeline, scoring raw rows with it, and checking it against Python.

Owns converter registration (LightGBM and XGBoost through onnxmltools, this package's float32
and text steps), the graph's interface, and the parity check. The graph has one input per raw
column used by the model, named after the column (skl2onnx turns characters such as spaces
into ``_``; the mapping is kept in the model's metadata): a ``[N, 1]`` float tensor for
numeric columns (integers and booleans as floats, missing as NaN) and a ``[N, 1]`` string
tensor for categorical ones (missing as ""). Datetime columns are not inputs: with ONNX
compatibility on they are left out of the model (a guardrail says so). Outputs: regression
``variable`` (float ``[N, 1]``); classification ``label`` and ``probabilities`` (a
``[N, classes]`` tensor, no ZipMap).

Parity: the largest absolute difference between ONNX and Python predictions over the checked
rows, divided by the largest absolute Python prediction (for classifiers: over the class
probabilities, whose scale is 1). A candidate above ``PARITY_LIMIT`` is not exported.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd

from lakeworks.adapters.automl.featurize import AsFloat32, AsText, FeaturizationPlan, as_text
from lakeworks.core.automl import Task
from lakeworks.errors import InvalidInputError

PARITY_LIMIT = 1e-5
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
_META_COLUMNS = "lakeworks.columns"
_registered = False


def _register() -> None:
    """Teach skl2onnx this package's steps and the LightGBM/XGBoost estimators (once)."""
    global _registered
    if _registered:
        return
    import lightgbm as lgb
    import xgboost as xgb
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    def columns(operator: Any) -> int:
        return sum(int(i.get_second_dimension() or 1) for i in operator.inputs)

    def float_shape(operator: Any) -> None:
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([n, columns(operator)])

    def text_shape(operator: Any) -> None:
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = StringTensorType([n, columns(operator)])

    def joined(scope: Any, operator: Any, container: Any) -> str:
        names = [i.full_name for i in operator.inputs]
        if len(names) == 1:
            return str(names[0])
        out = scope.get_unique_variable_name("joined")
        container.add_node("Concat", names, out, axis=1,
                           name=scope.get_unique_operator_name("Concat"))
        return str(out)

    def convert_float(scope: Any, operator: Any, container: Any) -> None:
        container.add_node("Cast", [joined(scope, operator, container)],
                           operator.outputs[0].full_name, to=1,
                           name=scope.get_unique_operator_name("Cast"))

    def convert_text(scope: Any, operator: Any, container: Any) -> None:
        container.add_node("Identity", [joined(scope, operator, container)],
                           operator.outputs[0].full_name,
                           name=scope.get_unique_operator_name("Identity"))

    def text_parser(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
        operator = scope.declare_local_operator("LakeworksAsText", model)
        operator.inputs = inputs
        operator.outputs.append(scope.declare_local_variable("text", StringTensorType()))
        return operator.outputs

    update_registered_converter(AsFloat32, "LakeworksAsFloat32", float_shape, convert_float)
    update_registered_converter(AsText, "LakeworksAsText", text_shape, convert_text,
                                parser=text_parser)
    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    update_registered_converter(lgb.LGBMClassifier, "LightGbmLGBMClassifier",
                                calculate_linear_classifier_output_shapes, convert_lightgbm,
                                options=classifier_options)
    update_registered_converter(lgb.LGBMRegressor, "LightGbmLGBMRegressor",
                                calculate_linear_regressor_output_shapes, convert_lightgbm,
                                options={"split": None})
    update_registered_converter(xgb.XGBClassifier, "XGBoostXGBClassifier",
                                calculate_linear_classifier_output_shapes, convert_xgboost,
                                options=classifier_options)
    update_registered_converter(xgb.XGBRegressor, "XGBoostXGBRegressor",
                                calculate_linear_regressor_output_shapes, convert_xgboost)
    _registered = True


def _classifier_of(model: Any) -> Any:
    """The object whose ``probabilities`` output is the model's (the last step)."""
    while hasattr(model, "steps"):
        model = model.steps[-1][1]
    return model


def export(model: Any, plan: FeaturizationPlan, task: Task) -> bytes:
    """The ONNX graph of a fitted pipeline (raw columns in, see the module docstring).

    Raises:
        RuntimeError, ValueError, TypeError: the converter cannot handle a step (callers
            treat the candidate as not exportable).
    """
    _register()
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    used = plan.used()
    if any(c.purpose == "DateTime" for c in used):
        raise ValueError("datetime columns cannot be ONNX inputs")
    inputs = [(c.name, StringTensorType([None, 1]) if c.onnx_type == "string"
               else FloatTensorType([None, 1])) for c in used]
    options = {}
    if task is Task.CLASSIFICATION:
        options[id(_classifier_of(model))] = {"zipmap": False}
    with warnings.catch_warnings():  # converters read attributes scikit-learn deprecates
        warnings.simplefilter("ignore", FutureWarning)
        onx = convert_sklearn(model, initial_types=inputs, target_opset=TARGET_OPSET,
                              options=options)
    names = [i.name for i in onx.graph.input]
    mapping = [{"column": c.name, "input": n, "type": c.onnx_type} for c, n in zip(
        used, names, strict=True)]
    entry = onx.metadata_props.add()
    entry.key, entry.value = _META_COLUMNS, json.dumps(mapping)
    entry = onx.metadata_props.add()
    entry.key, entry.value = "lakeworks.task", task.value
    return bytes(onx.SerializeToString())


def _session(onnx_model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    return ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])


def _feeds(session: Any, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    meta = session.get_modelmeta().custom_metadata_map
    mapping = json.loads(meta.get(_META_COLUMNS, "[]"))
    if not mapping:
        mapping = [{"column": i.name, "input": i.name,
                    "type": "string" if "string" in i.type else "float"}
                   for i in session.get_inputs()]
    missing = [m["column"] for m in mapping if m["column"] not in frame.columns]
    if missing:
        raise InvalidInputError(f"the ONNX model needs columns {missing}, which the data lacks",
                                field=missing[0])
    feeds = {}
    for m in mapping:
        column = frame[[m["column"]]]
        if m["type"] == "string":
            feeds[m["input"]] = as_text(column).astype(str)
        else:
            feeds[m["input"]] = AsFloat32().fit(column).transform(column)
    return feeds


def _run(onnx_model: bytes, frame: pd.DataFrame) -> list[Any]:
    session = _session(onnx_model)
    return list(session.run(None, _feeds(session, frame)))


def predict_onnx(onnx_model: bytes, frame: pd.DataFrame) -> np.ndarray:
    """Predictions of an exported AutoML model for raw rows (class labels for classifiers).

    Example:
        >>> predict_onnx(outcome.onnx_model, test_frame)[:3]  # doctest: +SKIP
        array(['No', 'No', 'Yes'], dtype=object)

    Raises:
        InvalidInputError: ``frame`` lacks a column the model takes.
    """
    return np.asarray(_run(onnx_model, frame)[0]).ravel()


def predict_proba_onnx(onnx_model: bytes, frame: pd.DataFrame) -> np.ndarray:
    """Class probabilities (``[rows, classes]``, classes sorted) of an exported classifier.

    Raises:
        InvalidInputError: ``frame`` lacks a column, or the model is a regressor.
    """
    outputs = _run(onnx_model, frame)
    if len(outputs) < 2:
        raise InvalidInputError("this ONNX model is a regressor; it has no class probabilities")
    return np.asarray(outputs[1], dtype=np.float64)


def max_relative_error(onnx_model: bytes, model: Any, frame: pd.DataFrame,
                       task: Task) -> float:
    """ONNX against Python on ``frame`` (the definition is in the module docstring)."""
    if task is Task.CLASSIFICATION:
        ours = predict_proba_onnx(onnx_model, frame)
        theirs = np.asarray(model.predict_proba(frame), dtype=np.float64)
        return float(np.max(np.abs(ours - theirs)))
    ours = predict_onnx(onnx_model, frame).astype(np.float64)
    theirs = np.asarray(model.predict(frame), dtype=np.float64).ravel()
    scale = max(float(np.max(np.abs(theirs))), 1e-12)
    return float(np.max(np.abs(ours - theirs)) / scale)


def _nodes(est: Any) -> int:
    """Tree nodes in a fitted estimator (0 for models without trees)."""
    if hasattr(est, "steps"):
        return sum(_nodes(step) for _, step in est.steps)
    if hasattr(est, "estimators_") and not hasattr(est, "tree_"):
        members = np.ravel(np.asarray(est.estimators_, dtype=object))
        return sum(_nodes(m) for m in members)
    if hasattr(est, "calibrated_classifiers_"):
        return 0
    if hasattr(est, "tree_"):
        return int(est.tree_.node_count)
    if hasattr(est, "booster_"):
        return int(est.booster_.num_trees()) * 2 * int(est.num_leaves)
    if hasattr(est, "get_booster"):
        return sum(dump.count("\n") for dump in est.get_booster().get_dump())
    return 0


def export_seconds(model: Any) -> float:
    """A rough upper estimate of how long ``export`` plus the check take for ``model``."""
    return 0.5 + _nodes(model) / 100_000
