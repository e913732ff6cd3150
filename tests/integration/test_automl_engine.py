"""The AutoML engine with real libraries (scikit-learn, LightGBM, XGBoost, Optuna, ONNX): runs on
shipped data within their budget, ONNX exports that score raw rows like Python does (unseen
categories included), the StackEnsemble (scored out of fold, assembled, saved), featurization
decisions, limits, and every bad input it must refuse."""

from __future__ import annotations

import importlib.util
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lakeworks.core.automl import STACK_ENSEMBLE, VOTING_ENSEMBLE, AutoMLSpec, Task, automl_spec
from lakeworks.errors import InvalidInputError
from lakeworks.sample_data import dataset_path

_EXTRA = ("sklearn", "lightgbm", "xgboost", "optuna", "skl2onnx", "onnxmltools", "onnxruntime")
_MISSING = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.automl,
    pytest.mark.skipif(bool(_MISSING), reason=f"the automl extra is not installed (missing "
                       f"{', '.join(_MISSING)}): pip install -e '.[automl]'"),
]

if not _MISSING:
    from lakeworks.adapters.automl import (
        AutoMLOutcome,
        TrialResult,
        predict_onnx,
        predict_proba_onnx,
        run_automl,
    )
    from lakeworks.adapters.automl.ensemble import (
        assemble_stack,
        fit_stack,
        meta_features,
        stack_members,
    )
    from lakeworks.adapters.automl.featurize import plan_featurization
    from lakeworks.adapters.automl.metrics import (
        BINARY_METRICS,
        CLASSIFICATION_METRICS,
        REGRESSION_METRICS,
    )

BUDGET = 20.0
ENSEMBLES = (VOTING_ENSEMBLE, STACK_ENSEMBLE)


def spec(task: str, target: str, **settings: Any) -> AutoMLSpec:
    data = {"task": task, "target_column_name": target, **settings}
    return automl_spec(data)


def timed(frame: pd.DataFrame, the_spec: AutoMLSpec, **kwargs: Any) -> tuple[Any, float,
                                                                              list[Any]]:
    seen: list[TrialResult] = []
    started = time.perf_counter()
    outcome = run_automl(frame, the_spec, on_trial=seen.append, **kwargs)
    return outcome, time.perf_counter() - started, seen


@pytest.fixture(scope="module")
def bike() -> pd.DataFrame:
    return pd.read_csv(dataset_path("bike-rentals-daily")).drop(columns="dteday")


@pytest.fixture(scope="module")
def attrition() -> pd.DataFrame:
    return pd.read_csv(dataset_path("ibm-hr-attrition"))


@pytest.fixture(scope="module")
def bike_run(bike: pd.DataFrame) -> tuple[AutoMLOutcome, float, list[TrialResult]]:
    the_spec = spec("regression", "rentals", primary_metric="spearman_correlation",
                    limits={"timeout_minutes": BUDGET / 60, "max_concurrent_trials": 2,
                            "enable_early_termination": False},
                    training={"enable_onnx_compatible_models": True})
    return timed(bike, the_spec)


@pytest.fixture(scope="module")
def attrition_run(attrition: pd.DataFrame) -> tuple[AutoMLOutcome, float, list[TrialResult]]:
    the_spec = spec("classification", "Attrition", primary_metric="AUC_weighted",
                    limits={"timeout_minutes": BUDGET / 60},
                    training={"enable_onnx_compatible_models": True})
    return timed(attrition, the_spec)


def test_bike_regression_within_budget_with_an_onnx_model_matching_python(
        bike: pd.DataFrame, bike_run: tuple[AutoMLOutcome, float, list[TrialResult]]) -> None:
    outcome, wall, seen = bike_run
    assert wall <= BUDGET * 1.1, f"took {wall:.1f} s for a {BUDGET:.0f} s budget"
    assert outcome.stop_reason == "timeout"
    assert [t.number for t in seen] == [t.number for t in outcome.trials]
    completed = [t for t in outcome.trials if t.status == "Completed"]
    assert len(completed) >= 5
    assert set(completed[0].metrics) == set(REGRESSION_METRICS)
    # the winner is an ensemble that beat every single model, or the best single model (an
    # ensemble whose members cannot all be refit in time, or fail ONNX parity, gives way)
    singles = [t.score for t in completed if t.score is not None
               and not t.algorithm.endswith("Ensemble")]
    assert outcome.best.score is not None and outcome.best.score >= max(singles)
    if not outcome.best.algorithm.endswith("Ensemble"):
        assert outcome.best.score == max(singles)
    assert outcome.best.score > 0.6  # Spearman on 10-fold CV; the lab's data reaches ~0.75
    assert outcome.onnx_model is not None
    assert outcome.onnx_max_relative_error is not None
    assert outcome.onnx_max_relative_error <= 1e-5
    assert outcome.best.onnx_max_relative_error == outcome.onnx_max_relative_error
    features = bike.drop(columns="rentals")
    ours = predict_onnx(outcome.onnx_model, features)
    python = outcome.model.predict(features)
    assert np.max(np.abs(ours - python)) <= 1e-5 * np.max(np.abs(python))
    assert set(outcome.feature_importance) == set(features.columns)
    assert max(outcome.feature_importance, key=outcome.feature_importance.__getitem__) in (
        "temp", "atemp", "season", "hum")
    assert len(outcome.validation) == len(bike)  # cross-validated: every row scored out of fold
    assert len(outcome.validation_predictions) == len(bike)
    guardrails = {g["name"]: g for g in outcome.guardrails}
    assert "10-fold cross-validation" in guardrails["Validation split handling"]["detail"]
    assert guardrails["ONNX compatibility"]["status"] == "Done"
    assert outcome.featurization["season"]["purpose"] == "Categorical"
    assert outcome.featurization["temp"]["purpose"] == "Numeric"
    assert list(outcome.input_example.columns) == list(features.columns)


def test_attrition_binary_classification_has_onnx_labels_and_probabilities(
        attrition: pd.DataFrame,
        attrition_run: tuple[AutoMLOutcome, float, list[TrialResult]]) -> None:
    outcome, wall, _ = attrition_run
    # the search stops at its budget; the final refit and ONNX check add a few seconds
    assert wall <= BUDGET + 5
    assert list(outcome.model.classes_) == ["No", "Yes"]
    completed = [t for t in outcome.trials if t.status == "Completed"]
    # every Azure metric, and the *_binary ones for the positive class ("Yes", sorted last)
    assert set(completed[0].metrics) == set(CLASSIFICATION_METRICS) | set(BINARY_METRICS)
    assert outcome.best.score is not None and outcome.best.score > 0.78
    assert outcome.onnx_model is not None
    features = attrition.drop(columns="Attrition")
    labels = predict_onnx(outcome.onnx_model, features)
    proba = predict_proba_onnx(outcome.onnx_model, features)
    assert proba.shape == (len(attrition), 2)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.max(np.abs(proba - outcome.model.predict_proba(features))) <= 1e-5
    assert (labels == outcome.model.predict(features)).mean() > 0.999
    assert set(labels) <= {"No", "Yes"}
    guardrails = {g["name"]: g for g in outcome.guardrails}
    assert guardrails["Class balancing detection"]["status"] == "Alerted"
    assert "3-fold" in guardrails["Validation split handling"]["detail"]
    assert set(outcome.validation_predictions) <= {"No", "Yes"}


def test_unseen_and_missing_categories_score_in_python_and_onnx(
        attrition: pd.DataFrame,
        attrition_run: tuple[AutoMLOutcome, float, list[TrialResult]]) -> None:
    outcome, _, _ = attrition_run
    assert outcome.onnx_model is not None
    rows = attrition.drop(columns="Attrition").head(20).copy()
    rows["JobRole"] = rows["JobRole"].astype(object)
    rows.loc[0, "JobRole"] = "Astronaut"
    rows.loc[1, "JobRole"] = None
    rows.loc[2, "MonthlyIncome"] = np.nan
    python = outcome.model.predict_proba(rows)
    onnx = predict_proba_onnx(outcome.onnx_model, rows)
    assert np.max(np.abs(python - onnx)) <= 1e-5
    with pytest.raises(InvalidInputError, match="JobRole"):
        predict_onnx(outcome.onnx_model, rows.drop(columns="JobRole"))


def test_multiclass_wine_with_a_validation_split() -> None:
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    wine["target"] = wine["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    the_spec = spec("classification", "target", primary_metric="accuracy",
                    validation_data_size=0.25,
                    limits={"timeout_minutes": 12 / 60, "max_trials": 12},
                    training={"enable_onnx_compatible_models": True})
    outcome, wall, _ = timed(wine, the_spec)
    assert wall <= 12 * 1.1
    assert outcome.stop_reason in ("max_trials", "timeout")
    assert outcome.best.score is not None and outcome.best.score > 0.9
    assert len(outcome.validation) == 45  # 25% of 178 rows
    assert outcome.onnx_model is not None
    proba = predict_proba_onnx(outcome.onnx_model, wine.drop(columns="target"))
    assert proba.shape == (178, 3)
    assert set(predict_onnx(outcome.onnx_model, wine.head(10))) <= {
        "barolo", "grignolino", "barbera"}


def test_no_stack_ensemble_under_onnx_as_in_azure(
        attrition_run: tuple[AutoMLOutcome, float, list[TrialResult]],
        bike_run: tuple[AutoMLOutcome, float, list[TrialResult]]) -> None:
    for outcome, _, seen in (attrition_run, bike_run):
        assert len([t for t in seen if t.status == "Completed"]) >= 2
        assert STACK_ENSEMBLE not in {t.algorithm for t in outcome.trials}
        guardrail = next(g for g in outcome.guardrails if g["name"] == "Stack ensemble")
        assert "not built" in guardrail["detail"] and "onnx" in guardrail["detail"].lower()


def test_a_stack_ensemble_row_is_scored_out_of_fold_and_wins_only_by_its_score() -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import StackingClassifier
    from sklearn.pipeline import Pipeline

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    the_spec = spec("classification", "target", primary_metric="norm_macro_recall",
                    n_cross_validations=3,
                    limits={"timeout_minutes": 0.5, "max_trials": 3},  # ends at 3 trials
                    training={"allowed_training_algorithms": [  # quick ones
                        "logistic_regression", "knn", "random_forest"],
                              "enable_vote_ensemble": False})
    outcome, wall, seen = timed(frame, the_spec)
    assert wall <= 30 * 1.1 and outcome.stop_reason == "max_trials"
    singles = [t for t in seen if t.status == "Completed" and t.algorithm != STACK_ENSEMBLE]
    (stack,) = [t for t in seen if t.algorithm == STACK_ENSEMBLE]
    assert len(singles) == 3, [(t.algorithm, t.status, t.error) for t in seen]
    assert stack.number not in {t.number for t in singles}
    assert set(stack.metrics) == set(singles[0].metrics)  # every metric of the task
    assert set(CLASSIFICATION_METRICS) <= set(stack.metrics)
    assert stack.score == stack.metrics["norm_macro_recall"]
    params = stack.hyperparameters
    assert params["meta_learner"] == "LogisticRegression" and params["meta_learner_parameters"]
    by_number = {t.number: t.algorithm for t in singles}
    assert sorted(params["ensembled_iterations"]) == sorted(by_number)  # 3 algorithms, 3 members
    assert params["ensembled_algorithms"] == [by_number[n] for n in params["ensembled_iterations"]]
    best_single = max(t.score for t in singles if t.score is not None)
    assert (outcome.best.number == stack.number) == (stack.score > best_single)
    model = outcome.model
    assert isinstance(model, Pipeline)
    features = frame.drop(columns="target")
    assert list(model.classes_) == ["benign", "malignant"]
    assert set(model.predict(features)) == {"benign", "malignant"}
    proba = model.predict_proba(features)
    assert proba.shape == (len(frame), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(outcome.feature_importance) == set(features.columns)
    if outcome.best.number != stack.number:  # the assembly tests below cover the model
        assert not isinstance(model.named_steps["model"], StackingClassifier)
        return
    # Here (seeded defaults, scikit-learn 1.9) the stack wins: 0.951 against 0.944.
    assert isinstance(model.named_steps["model"], StackingClassifier)
    # the returned validation predictions are the out-of-fold ones the row was scored on
    truth = outcome.validation["target"].to_numpy()
    assert np.mean(outcome.validation_predictions == truth) == pytest.approx(
        stack.metrics["accuracy"])
    assert max(outcome.feature_importance.values()) > 0


def _members(kind: str) -> tuple[pd.DataFrame, np.ndarray, list[Any], np.ndarray | None]:
    """Raw rows, encoded target, unfitted members and labels for an assembly test."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier

    if kind == "regression":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        return X, y.to_numpy(), [ExtraTreesRegressor(30, random_state=0), Ridge(1.0)], None
    loader = load_breast_cancer if kind == "binary" else load_wine
    X, y = loader(return_X_y=True, as_frame=True)
    labels = (np.array(["malignant", "benign"]) if kind == "binary"
              else np.array(["barolo", "grignolino", "barbera"]))
    members = [RandomForestClassifier(30, random_state=0), LogisticRegression(max_iter=2000),
               KNeighborsClassifier(15)]
    return X, y.to_numpy(), members, labels


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_the_stack_model_is_the_meta_learner_over_its_members_and_saves(
        kind: str, tmp_path: Path) -> None:
    import mlflow.sklearn
    from sklearn.base import clone
    from sklearn.ensemble import StackingClassifier, StackingRegressor
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler

    from lakeworks.adapters.tracking.automl_runs import _trusted_types

    X, y, members, labels = _members(kind)
    classify = labels is not None
    featurizer = StandardScaler().fit(X)
    features = featurizer.transform(X)
    folds = (StratifiedKFold if classify else KFold)(3, shuffle=True, random_state=0)
    method = "predict_proba" if classify else "predict"
    out_of_fold = [cross_val_predict(m, features, y, cv=folds, method=method) for m in members]
    stack = fit_stack(Task.CLASSIFICATION if classify else Task.REGRESSION,
                      [4, 7, 9][: len(members)], out_of_fold, y, seed=0)
    assert stack is not None and stack.members == tuple([4, 7, 9][: len(members)])
    fitted = [(f"m{i}", clone(m).fit(features, y)) for i, m in enumerate(members)]
    model = assemble_stack(featurizer, fitted, stack.meta, labels)
    stacking = model.named_steps["model"]
    assert isinstance(stacking, StackingClassifier if classify else StackingRegressor)
    rows = X.sample(40, random_state=1)
    inside = featurizer.transform(rows)
    if classify:
        own = [m.predict_proba(inside) for _, m in fitted]
        # sklearn drops the first probability column of each member for two classes
        by_hand = np.hstack([p[:, 1:] for p in own] if kind == "binary" else own)
        expected = stack.meta.predict_proba(by_hand)
        assert np.allclose(model.predict_proba(rows), expected, rtol=0, atol=1e-12)
        assert list(model.predict(rows)) == list(labels[expected.argmax(axis=1)])
        assert list(model.classes_) == list(labels)
    else:
        expected = stack.meta.predict(np.column_stack([m.predict(inside) for _, m in fitted]))
        assert np.allclose(model.predict(rows), expected, rtol=0, atol=1e-9)
    folder = tmp_path / "model"  # saved as the tracking adapter saves the best model
    mlflow.sklearn.save_model(model, str(folder), skops_trusted_types=_trusted_types(model))
    for back in (mlflow.sklearn.load_model(str(folder)), pickle.loads(pickle.dumps(model))):
        again = back.predict_proba(rows) if classify else back.predict(rows)
        assert np.allclose(again, expected, rtol=0, atol=1e-12)


def test_the_stack_score_is_out_of_fold_not_in_sample() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    noise = [np.column_stack([1 - p, p]) for p in rng.uniform(size=(10, 300))]
    stack = fit_stack(Task.CLASSIFICATION, list(range(10)), noise, y, seed=0)
    assert stack is not None
    from sklearn.metrics import roc_auc_score

    honest = roc_auc_score(y, stack.predictions[:, 1])
    in_sample = roc_auc_score(y, stack.meta.predict_proba(meta_features(noise))[:, 1])
    assert abs(honest - 0.5) < 0.08 < in_sample - 0.5  # members know nothing of y
    assert fit_stack(Task.CLASSIFICATION, [0, 1], noise[:2], y[:20], seed=0) is None
    assert stack_members(["LightGBM", "LightGBM", "XGBoostClassifier", "LightGBM", "KNN"],
                         size=3) == [0, 2, 4]  # one of each algorithm first, rank order kept


def test_rows_without_target_are_dropped_and_limits_stop_the_search(
        bike: pd.DataFrame) -> None:
    frame = bike.copy()
    frame.loc[:9, "rentals"] = np.nan
    the_spec = spec("regression", "rentals", limits={"max_trials": 3},
                    training={"allowed_training_algorithms": ["light_gbm", "elastic_net"],
                              "enable_model_explainability": False})
    outcome, _, seen = timed(frame, the_spec)
    assert outcome.stop_reason == "max_trials"
    assert len([t for t in seen if t.algorithm not in ENSEMBLES]) == 3
    assert {t.algorithm for t in seen} <= {"LightGBM", "ElasticNet", *ENSEMBLES}
    (stack,) = [t for t in seen if t.algorithm == STACK_ENSEMBLE]  # on by default without ONNX
    assert stack.hyperparameters["meta_learner"] == "ElasticNet"
    assert set(stack.metrics) == set(REGRESSION_METRICS)
    guardrail = next(g for g in outcome.guardrails if g["name"] == "Missing target values")
    assert guardrail["status"] == "Done" and "10 rows" in guardrail["detail"]
    assert len(outcome.validation) == len(bike) - 10
    assert outcome.onnx_model is None and outcome.feature_importance == {}


def test_given_validation_data_weights_and_exit_score(bike: pd.DataFrame) -> None:
    frame = bike.assign(importance=np.where(bike["holiday"] == "Yes", 2.0, 1.0))
    train, held = frame.iloc[:600], frame.iloc[600:]
    the_spec = spec("regression", "rentals", primary_metric="r2_score",
                    weight_column_name="importance", limits={"exit_score": -100.0},
                    training={"allowed_training_algorithms": ["light_gbm"]})
    outcome, _, seen = timed(train, the_spec, validation=held)
    assert outcome.stop_reason == "exit_score"
    singles = [t for t in seen if t.algorithm not in ENSEMBLES]
    assert seen[0].status == "Completed" and len(singles) <= 3  # the first score is enough
    assert len(outcome.validation) == len(held)
    assert list(outcome.validation["rentals"]) == list(held["rentals"])
    assert "importance" not in outcome.featurization
    split = next(g for g in outcome.guardrails if g["name"] == "Validation split handling")
    assert split["detail"] == f"validation data given ({len(held)} rows)"


def test_early_termination_when_the_score_stops_improving(bike: pd.DataFrame) -> None:
    the_spec = spec("regression", "rentals", limits={"max_trials": 300},
                    training={"allowed_training_algorithms": ["knn"],
                              "enable_vote_ensemble": False, "enable_stack_ensemble": False,
                              "enable_model_explainability": False})
    outcome, _, seen = timed(bike, the_spec)
    assert outcome.stop_reason == "early_termination"
    assert not [t for t in seen if t.algorithm in ENSEMBLES]  # both ensembles turned off
    assert 30 <= len(seen) < 300
    best_at = next(i for i, t in enumerate(seen) if t.number == outcome.best.number)
    assert len(seen) - best_at > 10


def test_should_stop_ends_the_search_and_the_best_so_far_wins(bike: pd.DataFrame) -> None:
    calls: list[TrialResult] = []
    the_spec = spec("regression", "rentals", training={"enable_vote_ensemble": False})
    outcome = run_automl(bike, the_spec, on_trial=calls.append,
                         should_stop=lambda: len(calls) >= 2)
    assert outcome.stop_reason == "canceled"
    assert outcome.best.status == "Completed"


def test_a_trial_past_its_time_limit_is_canceled(bike: pd.DataFrame) -> None:
    seen: list[TrialResult] = []
    the_spec = spec("regression", "rentals",
                    limits={"trial_timeout_minutes": 0.3 / 60, "max_trials": 2},
                    training={"allowed_training_algorithms": ["random_forest"]})
    with pytest.raises(InvalidInputError, match="no trial finished within the budget"):
        run_automl(bike, the_spec, on_trial=seen.append)
    assert [t.status for t in seen] == ["Canceled", "Canceled"]
    assert "time limit" in (seen[0].error or "")


def test_a_budget_too_small_for_any_trial_is_a_clear_error(bike: pd.DataFrame) -> None:
    the_spec = spec("regression", "rentals", limits={"timeout_minutes": 1 / 60})
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"no trial finished within the budget \(1 s"):
        run_automl(bike, the_spec)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(("change", "the_spec", "message"), [
    (lambda f: f.drop(columns="rentals"), ("regression", "rentals"),
     "the target column 'rentals' is not in the training data"),
    (lambda f: f.assign(rentals=np.nan), ("regression", "rentals"),
     "every value of the target column 'rentals' in the training data is empty"),
    (lambda f: f.assign(rentals="many"), ("regression", "rentals"),
     "regression needs a numeric target; column 'rentals' holds 'many'"),
    (lambda f: f.assign(busy="Yes"), ("classification", "busy"),
     "classification needs at least two classes; the target has only 'Yes'"),
    (lambda f: f.assign(tags=[["a", "b"]] * len(f)), ("regression", "rentals"),
     "column 'tags' holds list values"),
    (lambda f: f.assign(blob=[b"\x00"] * len(f)), ("regression", "rentals"),
     "column 'blob' holds bytes values"),
])
def test_bad_inputs_are_refused_naming_what_is_wrong(
        bike: pd.DataFrame, change: Any, the_spec: tuple[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        run_automl(change(bike.copy()), spec(*the_spec))


def test_featurization_decisions_and_overrides() -> None:
    n = 200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "id": np.arange(1000, 1000 + n),
        "constant": 7,
        "empty": [None] * n,
        "when": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
        "grade": rng.integers(1, 5, n),
        "amount": rng.normal(size=n),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        "code": [f"c{i:05d}" for i in range(n)],
        "y": rng.normal(size=n),
    })
    base = {"task": "regression", "target_column_name": "y"}
    plan = plan_featurization(frame, automl_spec(base), onnx=False)
    purposes = {c.name: c.purpose for c in plan.columns}
    assert purposes == {"id": "Ignore", "constant": "Ignore", "empty": "Ignore",
                        "when": "DateTime", "grade": "Categorical", "amount": "Numeric",
                        "city": "Categorical", "code": "Ignore"}
    onnx_plan = plan_featurization(frame, automl_spec(base), onnx=True)
    assert "ONNX" in next(c.detail for c in onnx_plan.columns if c.name == "when")
    custom = automl_spec({**base, "featurization": {
        "mode": "custom", "column_name_and_types": {"amount": "Categorical", "city": "Ignore"},
        "blocked_transformers": ["OneHotEncoder"]}})
    plan = plan_featurization(frame, custom, onnx=True)
    by_name = {c.name: c for c in plan.columns}
    assert by_name["amount"].purpose == "Categorical" and by_name["amount"].onnx_type == "string"
    assert by_name["city"].purpose == "Ignore"
    assert plan.encoder == "OrdinalEncoder"
    off = automl_spec({**base, "featurization": {"mode": "off"}})
    assert [c.purpose for c in plan_featurization(frame[["amount", "grade", "y"]], off,
                                                  onnx=True).columns] == ["Numeric"] * 2
    with pytest.raises(InvalidInputError, match=r"featurization is off.*column 'city'"):
        plan_featurization(frame[["amount", "city", "y"]], off, onnx=False)
    with pytest.raises(InvalidInputError, match="names columns the data does not have"):
        plan_featurization(frame, automl_spec({**base, "featurization": {
            "column_name_and_types": {"nope": "Numeric"}}}), onnx=False)


def test_positive_label_is_the_class_the_binary_metrics_are_about(
        attrition: pd.DataFrame) -> None:
    from sklearn.metrics import recall_score

    the_spec = spec("classification", "Attrition", primary_metric="accuracy",
                    positive_label="No", limits={"timeout_minutes": 0.2, "max_trials": 2},
                    training={"allowed_training_algorithms": ["LogisticRegression"],
                              "enable_stack_ensemble": False})
    outcome = run_automl(attrition, the_spec)
    assert list(outcome.model.classes_) == ["Yes", "No"]  # the positive class is class 1
    trial = next(t for t in outcome.trials if t.algorithm == "LogisticRegression")
    truth = outcome.validation["Attrition"].to_numpy()
    said = np.asarray(outcome.validation_predictions)
    if outcome.best.number == trial.number:
        assert trial.metrics["recall_score_binary"] == pytest.approx(
            recall_score(truth == "No", said == "No"), abs=1e-9)
    assert trial.metrics["recall_score_binary"] > 0.9  # "No" is 84% of rows: easy to recall


def test_a_positive_label_that_is_not_a_class_is_refused(attrition: pd.DataFrame) -> None:
    the_spec = spec("classification", "Attrition", positive_label="Maybe",
                    limits={"timeout_minutes": 0.2})
    with pytest.raises(InvalidInputError, match="positive_label 'Maybe' is not a class") as err:
        run_automl(attrition, the_spec)
    assert "'No', 'Yes'" in str(err.value)
