"""Training data checks, the target, and how trials are validated (folds or a held-out split).

Owns the checks a bad input fails with (target missing or empty, one class, bad weights,
non-numeric regression target), dropping rows without a target, encoding class labels, and
choosing validation as Azure does: the validation data given, else ``validation_data_size``,
else ``n_cross_validations`` or folds by data size (``default_cv_folds``), stratified for
classification. Also the data guardrails that follow from these. Must not featurize or train.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from lakeworks.core.automl import AutoMLSpec, Task, default_cv_folds
from lakeworks.errors import InvalidInputError

MIN_ROWS = 10
#: A class smaller than this share of the largest class is reported as imbalanced.
IMBALANCE = 0.2


def guardrail(name: str, status: str, detail: str) -> dict[str, str]:
    return {"name": name, "status": status, "detail": detail}


@dataclass
class Prepared:
    """Feature rows and target after the checks (rows without a target dropped)."""

    frame: pd.DataFrame
    target: pd.Series
    weight: np.ndarray | None
    dropped: int


def _as_frame(data: Any, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    raise InvalidInputError(f"the {what} must be a pandas DataFrame, not {type(data).__name__}")


def prepare(data: Any, spec: AutoMLSpec, what: str = "training data") -> Prepared:
    """Check ``data`` against ``spec`` and split off target and weight.

    Raises:
        InvalidInputError: the target (or weight) column is missing, the target is empty,
            a regression target is not numeric, or a weight is missing or negative.
    """
    frame = _as_frame(data, what)
    target = spec.target_column_name
    if target not in frame.columns:
        raise InvalidInputError(
            f"the target column {target!r} is not in the {what} (columns: "
            f"{', '.join(map(str, frame.columns[:20]))})", field="target_column_name")
    y = frame[target]
    empty = y.isna() | (y.astype(str).str.strip() == "")
    if empty.all():
        raise InvalidInputError(f"every value of the target column {target!r} in the {what} "
                                "is empty", field="target_column_name")
    frame = frame.loc[~empty.to_numpy()].reset_index(drop=True)
    y = frame[target]
    if spec.task is Task.REGRESSION:
        numbers = pd.to_numeric(y, errors="coerce")
        bad = numbers.isna()
        if bad.any():
            raise InvalidInputError(
                f"regression needs a numeric target; column {target!r} holds "
                f"{y[bad].iloc[0]!r} (row {int(np.flatnonzero(bad.to_numpy())[0])})",
                field="target_column_name")
        y = numbers.astype(np.float64)
    elif y.dtype == object and len({type(v) for v in y}) > 1:
        y = y.astype(str)
    weight = None
    if spec.weight_column_name:
        name = spec.weight_column_name
        if name not in frame.columns:
            raise InvalidInputError(f"the weight column {name!r} is not in the {what}",
                                    field="weight_column_name")
        w = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(w).any() or (w < 0).any():
            raise InvalidInputError(f"the weight column {name!r} must hold non-negative "
                                    "numbers in every row", field="weight_column_name")
        weight = w
    return Prepared(frame.drop(columns=[target]), y.reset_index(drop=True), weight,
                    int(empty.sum()))


def encode_labels(task: Task, y: pd.Series, extra: pd.Series | None,
                  positive: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Encoded targets (0..K-1 for classes; floats for regression) and the class labels.

    Classes are in sorted order, except that a two-class target's ``positive`` label (Azure's
    ``positive_label``) is always class 1, the class the ``*_binary`` metrics are about.

    Raises:
        InvalidInputError: a classification target with a single class, or a
            ``positive_label`` that is not one of two classes.
    """
    if task is Task.REGRESSION:
        both = y if extra is None else pd.concat([y, extra], ignore_index=True)
        return both.to_numpy(dtype=np.float64), None
    both = y if extra is None else pd.concat([y, extra], ignore_index=True)
    labels, codes = np.unique(both.to_numpy(), return_inverse=True)
    train_classes = np.unique(codes[: len(y)])
    if len(train_classes) < 2:
        raise InvalidInputError(
            f"classification needs at least two classes; the target has only "
            f"{labels[train_classes[0]]!r}", field="target_column_name")
    if positive is not None:
        return _positive_last(codes.astype(np.int64), labels, positive)
    return codes.astype(np.int64), labels


def _positive_last(codes: np.ndarray, labels: np.ndarray,
                   positive: Any) -> tuple[np.ndarray, np.ndarray]:
    shown = ", ".join(repr(v) for v in labels[:10])
    if len(labels) != 2:
        raise InvalidInputError(
            f"positive_label applies to two-class targets; this one has {len(labels)} classes "
            f"({shown}); leave positive_label out", field="positive_label")
    matches = [i for i, v in enumerate(labels) if v == positive or str(v) == str(positive)]
    if not matches:
        raise InvalidInputError(f"positive_label {positive!r} is not a class of the target; "
                                f"the classes are {shown}", field="positive_label")
    if matches[0] == 1:
        return codes, labels
    return 1 - codes, labels[::-1].copy()


@dataclass
class Validation:
    """Folds as (fit rows, scored rows), the rows of the final refit, and a description."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    refit_rows: np.ndarray
    detail: str
    notes: list[str] = field(default_factory=list)


def _stratify(task: Task, y: np.ndarray) -> np.ndarray | None:
    if task is not Task.CLASSIFICATION:
        return None
    return y if np.bincount(y).min() >= 2 else None


def plan_validation(spec: AutoMLSpec, y: np.ndarray, train_rows: int,
                    validation_rows: int) -> Validation:
    """How trials are validated (rows ``train_rows`` onwards are given validation data)."""
    if train_rows < MIN_ROWS:
        raise InvalidInputError(f"AutoML needs at least {MIN_ROWS} training rows with a "
                                f"target; there are {train_rows}")
    every = np.arange(train_rows)
    if validation_rows:
        held = np.arange(train_rows, train_rows + validation_rows)
        return Validation([(every, held)], every,
                          f"validation data given ({validation_rows} rows)")
    y_train = y[:train_rows]
    size = spec.validation_data_size
    folds = spec.n_cross_validations
    if size is None and folds in (None, "auto"):
        folds = default_cv_folds(train_rows)
        why = ("fewer than 1,000" if train_rows < 1000 else
               "1,000 to 20,000" if train_rows <= 20000 else "more than 20,000")
        if folds is None:
            size = 0.1
        reason = f" (chosen by size: {why} training rows)"
    else:
        reason = ""
    if size is not None:
        fit, held = train_test_split(every, test_size=size, random_state=spec.seed,
                                     stratify=_stratify(spec.task, y_train))
        return Validation([(np.sort(fit), np.sort(held))], every,
                          f"train/validation split, {size:.0%} held out{reason}")
    k = int(folds)  # type: ignore[arg-type]
    notes = []
    if spec.task is Task.CLASSIFICATION:
        smallest = int(np.bincount(y_train).min())
        if smallest >= k:
            splitter: Any = StratifiedKFold(k, shuffle=True, random_state=spec.seed)
        elif smallest >= 2:
            notes.append(f"folds reduced from {k} to {smallest}: the smallest class has "
                         f"{smallest} rows")
            k = smallest
            splitter = StratifiedKFold(k, shuffle=True, random_state=spec.seed)
        else:
            notes.append("a class has a single row, so folds are not stratified")
            splitter = KFold(k, shuffle=True, random_state=spec.seed)
    else:
        splitter = KFold(k, shuffle=True, random_state=spec.seed)
    pairs = [(fit, held) for fit, held in splitter.split(every, y_train)]
    return Validation(pairs, every, f"{k}-fold cross-validation{reason}", notes)


def data_guardrails(task: Task, prepared: Prepared, y: np.ndarray,
                    labels: np.ndarray | None) -> list[dict[str, str]]:
    """Guardrails about the rows and the target (featurization adds its own)."""
    out = []
    if prepared.dropped:
        out.append(guardrail("Missing target values", "Done",
                             f"{prepared.dropped} rows without a target value were dropped"))
    else:
        out.append(guardrail("Missing target values", "Passed", "every row has a target"))
    if task is Task.CLASSIFICATION and labels is not None:
        counts = np.bincount(y, minlength=len(labels))
        small, large = int(counts.min()), int(counts.max())
        if small < IMBALANCE * large:
            out.append(guardrail(
                "Class balancing detection", "Alerted",
                f"class {labels[int(counts.argmin())]!r} has {small} rows against {large} of "
                f"the largest class; prefer AUC_weighted as the primary metric"))
        else:
            out.append(guardrail("Class balancing detection", "Passed",
                                 "the classes are balanced enough"))
    return out
