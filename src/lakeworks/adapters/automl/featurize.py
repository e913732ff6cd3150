"""Featurization: what each raw column is, and the ColumnTransformer turning raw columns into numbers.

Owns column type detection (numeric, low-cardinality numeric codes, categorical, datetime,
text, dropped), the user's ``featurization`` settings (``mode``, ``column_name_and_types``,
``blocked_transformers``, imputer ``transformer_params``), the check that every column can be
featurized at all, and the small transformers that make Python and ONNX see identical values:
numbers as float32 (what an ONNX model takes), text with missing values as "". Must not train
models or import ONNX libraries (a pickled model imports this module when it is loaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from lakeworks.core.automl import AutoMLSpec
from lakeworks.errors import InvalidInputError

#: Integer columns with at most this many distinct values are also one-hot encoded.
LOW_CARDINALITY = 10
#: A text column with more distinct values than this share of its rows is an identifier.
ID_SHARE = 0.95
#: Categories seen fewer times than this share one "infrequent" one-hot column.
MIN_FREQUENCY = 5
MAX_CATEGORIES = 64
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "quarter", "hour", "minute",
              "second")
_UNSUPPORTED = (list, dict, set, tuple, bytes, bytearray, np.ndarray)


def _as_float64(column: pd.Series) -> np.ndarray:
    if column.dtype.kind not in "biuf":
        column = pd.to_numeric(column, errors="coerce")
    values: np.ndarray = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def as_float32(data: Any) -> np.ndarray:
    """Raw numeric columns as a float32 matrix (text that is not a number becomes NaN)."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    out = np.empty(frame.shape, dtype=np.float32)
    for j in range(frame.shape[1]):
        out[:, j] = _as_float64(frame.iloc[:, j])
    return out


def _text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if float(value).is_integer():
            return str(int(value))
    return str(value)


def as_text(data: Any) -> np.ndarray:
    """Raw categorical columns as an object matrix of str, missing values as ""."""
    values = data.to_numpy(dtype=object) if isinstance(data, pd.DataFrame) else np.asarray(
        data, dtype=object)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    out = np.empty(values.shape, dtype=object)
    for index, value in np.ndenumerate(values):
        out[index] = _text(value)
    return out


class AsFloat32(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Numbers as float32, so a model sees what its ONNX graph (float inputs) sees."""

    def fit(self, X: Any, y: Any = None) -> AsFloat32:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return as_float32(X)


class AsText(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Categories as str with missing values as "" (an ONNX string input cannot hold NaN)."""

    def fit(self, X: Any, y: Any = None) -> AsText:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return as_text(X)


class DateParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Datetime columns as their parts (year ... second), keeping the parts that vary."""

    def fit(self, X: Any, y: Any = None) -> DateParts:
        parts = self._parts(X)
        self.keep_ = [j for j in range(parts.shape[1])
                      if np.unique(parts[:, j][~np.isnan(parts[:, j])]).size > 1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return self._parts(X)[:, self.keep_]

    @staticmethod
    def _parts(X: Any) -> np.ndarray:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        blocks: list[np.ndarray] = []
        for j in range(frame.shape[1]):
            when = pd.to_datetime(frame.iloc[:, j], errors="coerce", format="mixed")
            dt = when.dt
            blocks.extend(getattr(dt, part).to_numpy(dtype=np.float32, na_value=np.nan)
                          for part in DATE_PARTS)
        return np.column_stack(blocks).astype(np.float32)


@dataclass(frozen=True)
class ColumnPlan:
    """How one raw column is featurized (``purpose`` is Azure's column type)."""

    name: str
    purpose: str  # Numeric | Categorical | DateTime | Text | Ignore
    dtype: str
    detail: str
    imputer: str | None = None
    codes: bool = False  # a low-cardinality integer column: numbers and one-hot both
    transformations: tuple[str, ...] = ()

    @property
    def onnx_type(self) -> str:
        return "string" if self.purpose == "Categorical" and not self.codes else "float"


@dataclass(frozen=True)
class FeaturizationPlan:
    """Every raw column's plan and the categorical encoder in use."""

    columns: tuple[ColumnPlan, ...]
    encoder: str = "OneHotEncoder"  # or "OrdinalEncoder", or "" (categoricals dropped)
    notes: tuple[str, ...] = field(default=())

    def used(self) -> list[ColumnPlan]:
        return [c for c in self.columns if c.purpose in ("Numeric", "Categorical", "DateTime")]

    def names(self, purpose: str) -> list[str]:
        return [c.name for c in self.used() if c.purpose == purpose and not c.codes]

    def report(self) -> dict[str, Any]:
        return {c.name: {"purpose": c.purpose, "dtype": c.dtype, "detail": c.detail,
                         "transformations": list(c.transformations)} for c in self.columns}


def _unsupported(name: str, column: pd.Series) -> None:
    if column.dtype != object:
        return
    sample = column.dropna().head(1000)
    for index, value in sample.items():
        if isinstance(value, _UNSUPPORTED):
            raise InvalidInputError(
                f"column {name!r} holds {type(value).__name__} values (row {index!r}); AutoML "
                "featurizes numbers, categories and dates: flatten the column or drop it",
                field=name)


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d[-/:]\d|\d{4}-\d", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _detect(name: str, column: pd.Series, forced: str | None, onnx: bool) -> ColumnPlan:
    dtype = str(column.dtype)
    present = column.dropna()
    if forced == "Ignore":
        return ColumnPlan(name, "Ignore", dtype, "ignored as asked")
    if present.empty:
        return ColumnPlan(name, "Ignore", dtype, "dropped: every value is missing")
    distinct = present.nunique()
    if distinct <= 1 and forced is None:
        return ColumnPlan(name, "Ignore", dtype, "dropped: constant")
    kind = column.dtype.kind
    if forced is None:
        textual = kind in "OSU" or dtype in ("str", "string", "category")
        if kind == "M" or (textual and _looks_like_dates(column)):
            forced = "DateTime"
        elif kind in "biuf":
            values = present.to_numpy(dtype=np.float64)
            integral = kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
            if integral and distinct == len(present) and distinct > 50 and \
                    values.max() - values.min() < 1.5 * distinct:
                return ColumnPlan(name, "Ignore", dtype,
                                  "dropped: an identifier (distinct consecutive integers)")
            if integral and 2 < distinct <= LOW_CARDINALITY:
                return ColumnPlan(name, "Categorical", dtype,
                                  f"integer codes ({distinct} values): numbers and one-hot",
                                  imputer="most_frequent", codes=True)
            forced = "Numeric"
        else:
            text = present.astype(str)
            if distinct > ID_SHARE * len(present) and distinct > 50:
                if text.str.split().str.len().mean() >= 3:
                    forced = "Text"
                else:
                    return ColumnPlan(name, "Ignore", dtype,
                                      "dropped: a high-cardinality identifier")
            else:
                forced = "Categorical"
    if forced == "DateTime":
        if onnx:
            return ColumnPlan(name, "Ignore", dtype, "dropped: a datetime column; ONNX models "
                              "take numbers and text only (pass date parts as numbers)")
        return ColumnPlan(name, "DateTime", dtype, "date parts", imputer="most_frequent")
    if forced == "Text":
        return ColumnPlan(name, "Ignore", dtype,
                          "dropped: free text (text featurization is not available)")
    if forced == "Numeric":
        if kind not in "biuf" and pd.to_numeric(present, errors="coerce").isna().mean() > 0.05:
            raise InvalidInputError(
                f"column {name!r} is typed Numeric but holds text such as "
                f"{present.iloc[0]!r}; fix column_name_and_types or the data", field=name)
        return ColumnPlan(name, "Numeric", dtype, "numbers", imputer="mean")
    return ColumnPlan(name, "Categorical", dtype, f"categories ({distinct} values)",
                      imputer="most_frequent")


def _imputers(spec: AutoMLSpec) -> dict[str, dict[str, Any]]:
    """Per-column imputer parameters from ``transformer_params`` (``imputer`` entries)."""
    out: dict[str, dict[str, Any]] = {}
    for key, entries in spec.featurization.transformer_params.items():
        if key.replace("_", "").lower() != "imputer":
            continue
        for entry in entries:
            params = dict(entry.get("parameters") or {})
            strategy = params.get("strategy", "mean")
            if strategy not in ("mean", "median", "most_frequent", "constant"):
                raise InvalidInputError(
                    f"imputer strategy {strategy!r} is not supported",
                    field="featurization.transformer_params.imputer",
                    allowed=["mean", "median", "most_frequent", "constant"])
            for column in entry.get("fields") or []:
                out[str(column)] = params
    return out


def plan_featurization(frame: pd.DataFrame, spec: AutoMLSpec, *,
                       onnx: bool) -> FeaturizationPlan:
    """Decide how every feature column of ``frame`` (target and weight excluded) is used.

    Raises:
        InvalidInputError: a column holds values no featurizer takes (lists, dicts, bytes),
            a column typed ``Numeric`` holds text, or featurization is ``off`` and a column
            is not numeric.
    """
    settings = spec.featurization
    skip = {spec.target_column_name, spec.weight_column_name}
    forced_types = dict(settings.column_name_and_types) if settings.mode != "off" else {}
    unknown = sorted(set(forced_types) - set(map(str, frame.columns)))
    if unknown:
        raise InvalidInputError(
            f"column_name_and_types names columns the data does not have: {unknown}",
            field="featurization.column_name_and_types", allowed=list(map(str, frame.columns)))
    imputers = _imputers(spec)
    blocked = set(settings.blocked_transformers)
    encoder = "OneHotEncoder"
    notes: list[str] = []
    if "OneHotEncoder" in blocked:
        encoder = "" if "LabelEncoder" in blocked else "OrdinalEncoder"
        notes.append(f"OneHotEncoder blocked: categories are "
                     f"{'dropped' if not encoder else 'ordinal-encoded'}")
    plans = []
    for name in frame.columns:
        if name in skip:
            continue
        column = frame[name]
        _unsupported(str(name), column)
        if settings.mode == "off":
            if column.dtype.kind not in "biuf":
                raise InvalidInputError(
                    f"featurization is off, so every column must be numeric; column {name!r} "
                    f"is {column.dtype}: set featurization mode 'auto' or convert it",
                    field=str(name))
            plans.append(ColumnPlan(str(name), "Numeric", str(column.dtype),
                                    "numbers (featurization off)", transformations=("float32",)))
            continue
        plan = _detect(str(name), column, forced_types.get(str(name)), onnx)
        if plan.purpose == "Categorical" and not encoder and not plan.codes:
            plan = ColumnPlan(plan.name, "Ignore", plan.dtype,
                              "dropped: every categorical encoder is blocked")
        if plan.purpose == "Numeric" and plan.name in imputers:
            plan = ColumnPlan(plan.name, plan.purpose, plan.dtype, plan.detail,
                              imputer=str(imputers[plan.name].get("strategy", "mean")))
        plans.append(_with_steps(plan, encoder))
    return FeaturizationPlan(tuple(plans), encoder=encoder, notes=tuple(notes))


def _with_steps(plan: ColumnPlan, encoder: str) -> ColumnPlan:
    steps: tuple[str, ...] = ()
    if plan.purpose == "Numeric":
        steps = ("float32", f"SimpleImputer({plan.imputer})")
    elif plan.purpose == "Categorical" and plan.codes:
        steps = ("float32", "SimpleImputer(mean) as numbers",
                 "SimpleImputer(most_frequent)", "OneHotEncoder")
    elif plan.purpose == "Categorical":
        steps = ("text", "SimpleImputer(most_frequent)", encoder)
    elif plan.purpose == "DateTime":
        steps = ("date parts: " + ", ".join(DATE_PARTS), "SimpleImputer(most_frequent)")
    return ColumnPlan(plan.name, plan.purpose, plan.dtype, plan.detail, plan.imputer,
                      plan.codes, steps)


def _encoder(kind: str) -> Any:
    if kind == "OrdinalEncoder":
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                              dtype=np.float32)
    return OneHotEncoder(handle_unknown="ignore", min_frequency=MIN_FREQUENCY,
                         max_categories=MAX_CATEGORIES, sparse_output=False, dtype=np.float32)


def build_featurizer(plan: FeaturizationPlan, spec: AutoMLSpec) -> ColumnTransformer:
    """An unfitted ColumnTransformer taking the raw columns and giving a float32 matrix."""
    imputers = _imputers(spec)
    parts: list[tuple[str, Any, list[str]]] = []
    numeric = [c for c in plan.used() if c.purpose == "Numeric" or c.codes]
    if plan.columns and all(c.transformations == ("float32",) for c in plan.used()):
        return ColumnTransformer([("numbers", AsFloat32(), [c.name for c in numeric])],
                                 sparse_threshold=0)
    by_strategy: dict[tuple[str, Any], list[str]] = {}
    for c in numeric:
        params = imputers.get(c.name, {}) if not c.codes else {}
        key = (str(params.get("strategy", "mean")), params.get("fill_value"))
        by_strategy.setdefault(key, []).append(c.name)
    for i, ((strategy, fill), names) in enumerate(sorted(by_strategy.items(), key=str)):
        imputer = SimpleImputer(strategy=strategy, fill_value=fill, keep_empty_features=True)
        parts.append((f"numbers{i}", Pipeline([("float32", AsFloat32()),
                                                ("impute", imputer)]), names))
    codes = [c.name for c in plan.used() if c.codes]
    if codes:
        parts.append(("codes", Pipeline([
            ("float32", AsFloat32()),
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                     dtype=np.float32))]), codes))
    categorical = plan.names("Categorical")
    if categorical:
        parts.append(("categories", Pipeline([
            ("text", AsText()),
            ("impute", SimpleImputer(missing_values="", strategy="most_frequent",
                                     keep_empty_features=True)),
            ("encode", _encoder(plan.encoder))]), categorical))
    dates = plan.names("DateTime")
    if dates:
        parts.append(("dates", Pipeline([
            ("parts", DateParts()),
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True))]),
            dates))
    return ColumnTransformer(parts, sparse_threshold=0)
