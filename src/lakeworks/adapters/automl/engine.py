"""One AutoML run end to end: checks, featurization, search, ensembles, refit, ONNX, importance.

Owns the run's clock: ``limits.timeout_minutes`` covers everything, so the search stops early
enough to leave time for the final refit, the ensembles, the ONNX export and check, and
permutation importance (the reserve grows with what the best trials and the ensembles' members
cost to refit). After the search come the two ensemble rows, as Azure adds them: the
VotingEnsemble (when it beats the best single model) and the StackEnsemble (when
``enable_stack_ensemble`` is on, ONNX compatibility is off and at least two candidates
finished; a guardrail says when ONNX turned it off). Also the fall-backs: an ensemble whose
refit or ONNX check does not succeed in time gives way to the next best model that does. Must
not know about workspaces, jobs or MLflow.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lakeworks.adapters.automl import data as data_mod
from lakeworks.adapters.automl.ensemble import (
    LIBRARY,
    Stack,
    blend,
    caruana,
    describe_stack,
    fit_stack,
    stack_members,
    stacking,
)
from lakeworks.adapters.automl.featurize import plan_featurization
from lakeworks.adapters.automl.finalize import Finalizer
from lakeworks.adapters.automl.learners import LEARNERS, Context
from lakeworks.adapters.automl.metrics import all_metrics, better, primary_score
from lakeworks.adapters.automl.results import AutoMLOutcome, TrialResult
from lakeworks.adapters.automl.search import Candidate, Search
from lakeworks.adapters.automl.spark_trials import SparkPool, spark_parallelism
from lakeworks.adapters.automl.workers import Bundle, Pool
from lakeworks.core.automl import STACK_ENSEMBLE, VOTING_ENSEMBLE, AutoMLSpec
from lakeworks.errors import InvalidInputError

log = logging.getLogger(__name__)

def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _implemented(spec: AutoMLSpec) -> list[str]:
    """The allowed algorithms, in the order their defaults are tried."""
    wanted = spec.algorithms()
    return [name for name in LEARNERS if name in wanted]


def run_automl(train: pd.DataFrame, spec: AutoMLSpec, *, validation: pd.DataFrame | None = None,
               on_trial: Callable[[TrialResult], None] | None = None,
               should_stop: Callable[[], bool] | None = None,
               work_dir: Path | None = None,
               spark_session: Callable[[], Any] | None = None) -> AutoMLOutcome:
    """Search models for ``spec`` on ``train`` and return the best, refit on all rows.

    Args:
        train: the training rows, target column included.
        spec: what to search (task, metric, limits, training, featurization).
        validation: rows to score trials on instead of folds or a split of ``train``.
        on_trial: called with each leaderboard row as soon as a trial ends.
        should_stop: polled a few times a second; True ends the search early.
        work_dir: where worker logs go (a temporary folder when None).
        spark_session: when given, trials run as Spark tasks on the session it returns
            (called once the budget's clock has started) instead of local processes.

    Returns:
        The outcome: leaderboard, winner, fitted pipeline, ONNX model, importance.

    Raises:
        InvalidInputError: bad input (target missing, empty or single-class, a column no
            featurizer takes) or a budget too small for any trial to finish.

    Example:
        >>> spec = automl_spec({"task": "regression", "target_column_name": "rentals",
        ...                     "limits": {"timeout_minutes": 0.5}})  # doctest: +SKIP
        >>> run_automl(frame, spec).best.algorithm  # doctest: +SKIP
        'LightGBM'
    """
    started = time.time()
    budget = spec.timeout_seconds
    hard = started + budget if budget else math.inf
    onnx = spec.training.enable_onnx_compatible_models
    prepared = data_mod.prepare(train, spec)
    held = data_mod.prepare(validation, spec, "validation data") if validation is not None \
        else None
    plan = plan_featurization(prepared.frame, spec, onnx=onnx)
    if not plan.used():
        raise InvalidInputError("no column can be used as a feature: "
                                + "; ".join(f"{c.name}: {c.detail}" for c in plan.columns))
    y, labels = data_mod.encode_labels(spec.task, prepared.target,
                                       None if held is None else held.target,
                                       positive=spec.positive_label)
    frame = prepared.frame if held is None else pd.concat(
        [prepared.frame, held.frame[prepared.frame.columns.intersection(held.frame.columns)]],
        ignore_index=True)
    weight = prepared.weight
    if weight is not None and held is not None:
        weight = np.concatenate([weight, held.weight if held.weight is not None
                                 else np.ones(len(held.frame))])
    validation_plan = data_mod.plan_validation(spec, y, len(prepared.frame),
                                               0 if held is None else len(held.frame))
    train_y = y[: len(prepared.frame)]
    y_range = float(train_y.max() - train_y.min()) if labels is None else 1.0
    guardrails = data_mod.data_guardrails(spec.task, prepared, train_y, labels)
    guardrails += _feature_guardrails(plan, prepared.frame, validation_plan)
    guardrails += _ensemble_guardrails(spec)
    algorithms = _implemented(spec)
    spark = spark_session() if spark_session is not None else None
    slots = _cores() if spark is None else spark_parallelism(spark)
    wanted = spec.limits.max_concurrent_trials
    concurrency = max(1, min(wanted, slots or wanted))
    cores = spec.limits.max_cores_per_trial
    threads = max(1, (slots or 1) // concurrency if not cores or cores < 0 else cores)
    context = Context(spec.task, threads, spec.seed, len(prepared.frame),
                      0 if labels is None else len(labels))
    own_dir = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix="lakeworks-automl-")) if own_dir \
        else Path(work_dir) / "engine"  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "bundle.pkl"
    with bundle.open("wb") as handle:
        pickle.dump(Bundle(frame, y, weight, validation_plan.folds, validation_plan.refit_rows,
                           plan, spec, context), handle, protocol=pickle.HIGHEST_PROTOCOL)
    pool: Any = (Pool(bundle, concurrency, threads, folder) if spark is None
                 else SparkPool(spark, bundle, concurrency, threads))
    if spark is not None:
        log.info("AutoML trials run on Spark (%d at once)", concurrency)
    try:
        eval_rows = np.concatenate([rows for _, rows in validation_plan.folds])
        search = Search(spec, pool, context, algorithms, y[eval_rows], y_range,
                        len(validation_plan.folds), deadline=lambda: hard,
                        on_trial=on_trial, should_stop=should_stop)
        final = Finalizer(spec, pool, plan, context, frame, y, labels, validation_plan,
                          eval_rows, y_range, hard, budget)
        search.deadline = lambda: hard - final.reserve(search.state.candidates)
        stop_reason = search.run()
        ranked = sorted((c for c in search.state.candidates if c.trial.score is not None),
                        key=lambda c: -(c.trial.score or 0) if spec.maximize
                        else (c.trial.score or 0))
        if not ranked:
            seconds = f"{budget:.0f} s" if budget else "the limits"
            raise InvalidInputError(
                f"no trial finished within the budget ({seconds}; "
                f"{search.state.dispatched} started); give a longer timeout_minutes or "
                "fewer rows", field="limits.timeout_minutes")
        trials = list(search.state.trials)
        ensemble = _ensemble(spec, ranked, y[eval_rows], y_range, search.state.dispatched)
        stack = _stack(spec, ranked, y[eval_rows], y_range,
                       search.state.dispatched + (0 if ensemble is None else 1),
                       final.stack_seconds(search.state.candidates))
        for row in (ensemble, stack):
            if row is not None:
                trials.append(row[0])
                if on_trial is not None:
                    on_trial(row[0])
        result = final.run(ranked, ensemble, stack)
    finally:
        pool.close()
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            bundle.unlink(missing_ok=True)
    trials = [result.checked.get(t.number, t) for t in trials]
    best = next(t for t in trials if t.number == result.best_number)
    validation_frame = frame.iloc[eval_rows].reset_index(drop=True)
    target = spec.target_column_name
    truth = labels[y[eval_rows]] if labels is not None else y[eval_rows]
    validation_frame[target] = truth
    predictions = result.predictions
    shown = labels[np.asarray(predictions).argmax(axis=1)] if labels is not None else predictions
    guardrails += result.guardrails
    log.info("AutoML finished in %.1f s: %s (%s)", time.time() - started, best.algorithm,
             stop_reason)
    return AutoMLOutcome(
        trials=trials, best=best, model=result.model, onnx_model=result.onnx_model,
        onnx_max_relative_error=result.onnx_error, feature_importance=result.importance,
        input_example=prepared.frame.head(5).copy(), validation=validation_frame,
        validation_predictions=shown, guardrails=guardrails, stop_reason=stop_reason,
        featurization=plan.report())


def _ensemble(spec: AutoMLSpec, ranked: list[Candidate], y_eval: np.ndarray, y_range: float,
              number: int) -> tuple[TrialResult, dict[int, int]] | None:
    """The VotingEnsemble trial and member counts, when it beats the best single model."""
    if not spec.training.enable_vote_ensemble or len(ranked) < 2:
        return None
    started = time.time()
    library = ranked[:LIBRARY]
    preds = [c.predictions for c in library]

    def score(p: np.ndarray) -> float:
        value = primary_score(spec.task, spec.primary_metric, y_eval, p, y_range)
        return -math.inf if spec.maximize and math.isnan(value) else value

    counts, value = caruana(preds, [c.trial.score or 0.0 for c in library], score,
                            spec.primary_metric)
    if len(counts) < 2 or not better(spec.primary_metric, value, library[0].trial.score):
        return None
    members = {library[i].trial.number: n for i, n in counts.items()}
    blended = blend([library[i].predictions for i in counts], list(counts.values()))
    metrics = all_metrics(spec.task, y_eval, blended, y_range)
    total = sum(counts.values())
    trial = TrialResult(
        number, VOTING_ENSEMBLE, None,
        {"ensembled_iterations": list(members), "ensembled_algorithms": [
            library[i].algorithm for i in counts],
         "ensemble_weights": [n / total for n in counts.values()]},
        metrics, metrics.get(spec.primary_metric, value), "Completed",
        time.time() - started, started)
    return trial, members


def _stack(spec: AutoMLSpec, ranked: list[Candidate], y_eval: np.ndarray, y_range: float,
           number: int, seconds: float | None) -> tuple[TrialResult, Stack] | None:
    """The StackEnsemble trial and its second layer (a leaderboard row whether it wins or not).

    Built when ``stacking`` allows it, at least two candidates with finite predictions
    finished and its meta-learner can be scored in ``seconds`` (None: no limit); scored on
    the meta-learner's cross-validated predictions.
    """
    if not stacking(spec.training):
        return None
    started = time.time()
    usable = [c for c in ranked[:LIBRARY] if c.trial.score is not None
              and math.isfinite(c.trial.score) and np.isfinite(c.predictions).all()]
    picked = [usable[i] for i in stack_members([c.algorithm for c in usable])]
    if len(picked) < 2:
        return None
    try:
        stack = fit_stack(spec.task, [c.trial.number for c in picked],
                          [c.predictions for c in picked], y_eval, spec.seed, seconds)
    except (ValueError, np.linalg.LinAlgError) as exc:  # optional: the run goes on without
        log.warning("no StackEnsemble: its meta-learner could not be fitted: %s", exc)
        return None
    if stack is None:
        return None
    metrics = all_metrics(spec.task, y_eval, stack.predictions, y_range)
    trial = TrialResult(number, STACK_ENSEMBLE, None,
                        describe_stack(stack, [c.algorithm for c in picked]), metrics,
                        metrics.get(spec.primary_metric, math.nan), "Completed",
                        time.time() - started, started)
    return trial, stack


def _ensemble_guardrails(spec: AutoMLSpec) -> list[dict[str, str]]:
    """Azure's rule, said aloud: no StackEnsemble when ONNX-compatible models are asked for."""
    training = spec.training
    if training.enable_stack_ensemble and training.enable_onnx_compatible_models:
        return [data_mod.guardrail(
            "Stack ensemble", "Done", "not built: ONNX-compatible models were asked for "
            "(as in Azure, StackEnsemble is off with enable_onnx_compatible_models)")]
    return []


def _feature_guardrails(plan: Any, frame: pd.DataFrame,
                        validation: data_mod.Validation) -> list[dict[str, str]]:
    g = data_mod.guardrail
    out = [g("Validation split handling", "Done",
             "; ".join([validation.detail, *validation.notes]))]
    used = plan.used()
    missing = [c.name for c in used if frame[c.name].isna().any()]
    if missing:
        out.append(g("Missing feature values imputation", "Done", "imputed: " + ", ".join(
            f"{name} ({next(c.imputer for c in used if c.name == name)})"
            for name in missing)))
    else:
        out.append(g("Missing feature values imputation", "Passed",
                     "no feature values are missing"))
    identifiers = [c for c in plan.columns if "identifier" in c.detail]
    out.append(g("High cardinality feature detection", "Done" if identifiers else "Passed",
                 "dropped: " + ", ".join(f"{c.name} ({c.detail})" for c in identifiers)
                 if identifiers else "no identifier-like columns"))
    other = [c for c in plan.columns if c.purpose == "Ignore" and c not in identifiers]
    alerted = [c for c in other if "datetime" in c.detail or "text" in c.detail]
    if other:
        out.append(g("Unused columns", "Alerted" if alerted else "Done",
                     "; ".join(f"{c.name}: {c.detail}" for c in other)))
    for note in plan.notes:
        out.append(g("Featurization", "Done", note))
    return out

