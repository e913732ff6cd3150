"""The end of a run: refit the winner on all rows, check its ONNX export, measure importance.

Owns what happens after the search: choosing among the ensembles that beat the best single
model (VotingEnsemble, StackEnsemble: the better score first), refitting their members (each
trial once, shared members reused) and the best single model in the worker pool, assembling
the final pipeline, exporting and checking it against Python when ONNX compatibility is on (a
candidate whose ONNX predictions differ by more than ``PARITY_LIMIT`` cannot win: the ensemble
then drops the members that fail, and after that the next best single model is tried; no
StackEnsemble is built under ONNX), permutation importance, and the time this all needs (which
the search keeps in reserve: the refits of the best trials and of the StackEnsemble's likely
members, and its meta-learner's fits). An ensemble whose members are not all refit in time is
rebuilt from those that are (the StackEnsemble's meta-learner fitted and scored again) if it
still beats the best single model, and otherwise gives way to the next best model. Must not
choose configurations (``search`` does).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lakeworks.adapters.automl import onnx_export
from lakeworks.adapters.automl.data import Validation, guardrail
from lakeworks.adapters.automl.ensemble import (
    LIBRARY,
    Stack,
    assemble,
    assemble_stack,
    blend,
    describe_stack,
    fit_stack,
    stack_members,
    stacking,
)
from lakeworks.adapters.automl.featurize import FeaturizationPlan, build_featurizer
from lakeworks.adapters.automl.importance import feature_importance
from lakeworks.adapters.automl.learners import Context
from lakeworks.adapters.automl.metrics import all_metrics, better, primary_score
from lakeworks.adapters.automl.results import TrialResult
from lakeworks.adapters.automl.search import Candidate, refit_params
from lakeworks.adapters.automl.workers import Job, Pool
from lakeworks.core.automl import AutoMLSpec, Task

log = logging.getLogger(__name__)

CHECK_ROWS = 2000
#: Single models tried after the ensemble when the ensemble cannot be used.
FALLBACKS = 5


@dataclass
class FinalResult:
    model: Any
    best_number: int
    predictions: np.ndarray
    onnx_model: bytes | None = None
    onnx_error: float | None = None
    importance: dict[str, float] = field(default_factory=dict)
    checked: dict[int, TrialResult] = field(default_factory=dict)
    guardrails: list[dict[str, str]] = field(default_factory=list)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class Finalizer:
    """Refit, export and explain the winner of one run."""

    def __init__(self, spec: AutoMLSpec, pool: Pool, plan: FeaturizationPlan, context: Context,
                 frame: pd.DataFrame, y: np.ndarray, labels: np.ndarray | None,
                 validation: Validation, eval_rows: np.ndarray, y_range: float,
                 hard: float, budget: float | None) -> None:
        self.spec, self.pool, self.plan, self.context = spec, pool, plan, context
        self.frame, self.y, self.labels = frame, y, labels
        self.validation, self.eval_rows, self.y_range = validation, eval_rows, y_range
        self.best_single: float | None = None
        self.tried_single = False
        self.hard, self.budget = hard, budget
        self.onnx = spec.training.enable_onnx_compatible_models
        self.explain = spec.training.enable_model_explainability
        total = budget or 0.0
        self.onnx_part = _clamp(0.1 * total, 2.0, 60.0) if self.onnx and budget else 0.0
        self.importance_part = _clamp(0.05 * total, 1.0, 30.0) if self.explain and budget \
            else 0.0
        self.stacking = stacking(spec.training)
        self.stack_part = _clamp(0.03 * total, 1.0, 60.0) if self.stacking and budget else 0.0
        self.stacks: dict[int, Stack] = {}
        self.refits: dict[int, Any] = {}
        self.notes: list[dict[str, str]] = []
        self.checked: dict[int, TrialResult] = {}

    # -- time ------------------------------------------------------------------------------

    def _refit_seconds(self, c: Candidate) -> float:
        folds = len(self.validation.folds)
        per_fit = c.trial.duration_seconds / folds
        return per_fit * (1.2 if folds == 1 else folds / (folds - 1))

    def reserve(self, candidates: list[Candidate]) -> float:
        """Seconds the search leaves for the end of the run."""
        if not self.budget:
            return 0.0
        scored = [c for c in candidates if c.trial.score is not None]
        scored.sort(key=lambda c: -(c.trial.score or 0) if self.spec.maximize
                    else (c.trial.score or 0))
        costs = [self._refit_seconds(c) for c in self._refit_guess(scored)] \
            or [0.05 * self.budget]
        refit = max(sum(costs) / max(1, len(self.pool.procs)), max(costs))
        need = (self.onnx_part + self.importance_part + self.stack_part + refit
                + 0.02 * self.budget + 1.0)
        return min(need, 0.6 * self.budget)

    def stack_seconds(self, candidates: list[Candidate]) -> float | None:
        """Seconds the StackEnsemble's meta-learner may take now (None: no budget).

        Its share of the reserve, and whatever the search left unused.
        """
        if not self.budget:
            return None
        rest = self.reserve(candidates) - self.stack_part
        return max(0.0, self.hard - time.time() - rest)

    def _refit_guess(self, scored: list[Candidate]) -> list[Candidate]:
        """The candidates the end will likely refit: the best three, the stack's members."""
        top = scored[:3]
        if not self.stacking:
            return top
        library = scored[:LIBRARY]
        picked = stack_members([c.algorithm for c in library])
        return top + [library[i] for i in picked if i >= len(top)]

    # -- refits ----------------------------------------------------------------------------

    def _refit(self, wanted: list[Candidate], deadline: float, must: bool) -> None:
        """Refit ``wanted`` (in order) in the pool until done or ``deadline``.

        With ``must``, the first of them is waited for past ``deadline`` up to the budget's
        10% slack (a run must return a model).
        """
        todo = [c for c in wanted if c.trial.number not in self.refits]
        pending: dict[int, Candidate] = {}
        slack = self.hard + 0.08 * (self.budget or 0)
        first = todo[0].trial.number if todo else None
        while todo or pending:
            now = time.time()
            waiting_first = must and first is not None and first not in self.refits
            limit = slack if waiting_first else deadline
            if now >= limit:
                break
            while todo and self.pool.idle():
                c = todo.pop(0)
                pending[c.trial.number] = c
                self.pool.submit(Job("refit", c.trial.number, c.algorithm, refit_params(c),
                                     limit if c.trial.number == first else deadline, now))
            for event in self.pool.wait(0.1):
                log.debug("refit of trial %s: %s after %.1f s", event.job.key, event.kind,
                          time.time() - event.job.started)
                pending.pop(event.job.key, None)
                if event.kind == "done" and event.error is None:
                    self.refits[event.job.key] = event.result
                else:
                    log.warning("refit of trial %s failed: %s", event.job.key,
                                event.error or event.kind)
            if not must and not todo and not pending:
                break
        self.pool.kill_busy()

    # -- one attempt -----------------------------------------------------------------------

    def _refit_members(self, numbers: list[int],
                       by_number: dict[int, Candidate]) -> tuple[Any, list[tuple[str, Any]]]:
        """A featurizer fitted on the refit rows, and the named refit members."""
        rows = self.validation.refit_rows
        featurizer = build_featurizer(self.plan, self.spec).fit(self.frame.iloc[rows])
        return featurizer, [(f"m{n}_{by_number[n].algorithm}", self.refits[n]) for n in numbers]

    def _model(self, members: dict[int, int], by_number: dict[int, Candidate]) -> Any:
        featurizer, chosen = self._refit_members(list(members), by_number)
        return assemble(featurizer, chosen, list(members.values()), self.labels)

    def _stack_model(self, stack: Stack, by_number: dict[int, Candidate]) -> Any:
        featurizer, chosen = self._refit_members(list(stack.members), by_number)
        return assemble_stack(featurizer, chosen, stack.meta, self.labels)

    def _check_frame(self) -> pd.DataFrame:
        folds = self.validation.folds
        rows = folds[0][1] if len(folds) == 1 else self.validation.refit_rows
        if len(rows) > CHECK_ROWS:
            rows = np.random.default_rng(self.spec.seed).choice(rows, CHECK_ROWS, replace=False)
        return self.frame.iloc[np.sort(rows)]

    def _onnx(self, model: Any, force: bool = False) -> tuple[bytes | None, float, str | None]:
        left = self.hard - time.time() - self.importance_part
        if self.budget and not force and onnx_export.export_seconds(model) > left:
            return None, math.inf, "the export would not fit in the time left"
        try:
            onx = onnx_export.export(model, self.plan, self.spec.task)
            error = onnx_export.max_relative_error(onx, model, self._check_frame(),
                                                   self.spec.task)
        except Exception as exc:  # any converter failure only disqualifies the candidate
            return None, math.inf, f"{type(exc).__name__}: {exc}"
        if not math.isfinite(error) or error > onnx_export.PARITY_LIMIT:
            return None, error, f"ONNX differs from Python by {error:.2g} (relative)"
        return onx, error, None

    def _note_error(self, trial: TrialResult, error: float) -> None:
        value = error if math.isfinite(error) else None
        self.checked[trial.number] = replace(self.checked.get(trial.number, trial),
                                             onnx_max_relative_error=value)

    # -- the whole end ---------------------------------------------------------------------

    def run(self, ranked: list[Candidate],
            ensemble: tuple[TrialResult, dict[int, int]] | None,
            stack: tuple[TrialResult, Stack] | None = None) -> FinalResult:
        """Refit, assemble, export and explain the best model that can be had in time.

        Args:
            ranked: the completed candidates, best first.
            ensemble: the VotingEnsemble trial and its members' votes, if it was built.
            stack: the StackEnsemble trial and its second layer, if it was built.

        Returns:
            The final model, the winning trial's number, its validation predictions, its
            ONNX form, importance, the trials rescored on the way and guardrails.
        """
        by_number = {c.trial.number: c for c in ranked}
        self.best_single = ranked[0].trial.score
        deadline = self.hard - self.onnx_part - self.importance_part
        contenders = self._contenders(ensemble, stack)
        wanted = [ranked[0].trial.number]
        for _, members in contenders:
            order = sorted(members, key=lambda n: -members[n])
            wanted += [n for n in order if n not in wanted]
        self._refit([by_number[n] for n in wanted], deadline, must=True)
        attempts: list[tuple[TrialResult, dict[int, int]]] = []
        for trial, members in contenders:
            kept = {n: k for n, k in members.items() if n in self.refits}
            if len(kept) == len(members):
                attempts.append((trial, members))
                continue
            self.notes.append(guardrail(
                "Final model", "Alerted", f"{len(members) - len(kept)} of the "
                f"{trial.algorithm}'s {len(members)} members could not be refit in time; "
                "left out"))
            smaller = self._rescored(trial, kept, by_number)
            if smaller is not None:
                attempts.append(smaller)
        attempts += [(c.trial, {c.trial.number: 1}) for c in ranked[:FALLBACKS]]
        result: FinalResult | None = None
        while attempts and result is None:
            trial, members = attempts.pop(0)
            if not all(n in self.refits for n in members):
                later = max(deadline, self.hard - self.importance_part)
                self._refit([by_number[n] for n in members], later, must=False)
                if not all(n in self.refits for n in members):
                    continue
            result = self._attempt(trial, members, by_number, attempts)
        if result is None:
            result = self._without_onnx(ranked, by_number)
        result.importance = self._importance(result.model)
        result.checked = self.checked
        result.guardrails = self.notes
        return result

    def _contenders(self, ensemble: tuple[TrialResult, dict[int, int]] | None,
                    stack: tuple[TrialResult, Stack] | None,
                    ) -> list[tuple[TrialResult, dict[int, int]]]:
        """The ensembles that beat the best single model, the better first."""
        out = [] if ensemble is None else [ensemble]
        metric = self.spec.primary_metric
        if stack is not None and better(metric, stack[0].score, self.best_single):
            self.stacks[stack[0].number] = stack[1]
            out.append((stack[0], dict.fromkeys(stack[1].members, 1)))
        if len(out) == 2 and better(metric, out[1][0].score, out[0][0].score):
            out.reverse()
        return out

    def _without_onnx(self, ranked: list[Candidate],
                      by_number: dict[int, Candidate]) -> FinalResult:
        """The best refit single model, when no candidate passed the ONNX check."""
        best = next((c for c in ranked if c.trial.number in self.refits), None)
        if best is None:
            raise RuntimeError("no model could be refit within the budget")
        self.notes.append(guardrail(
            "ONNX compatibility", "Alerted", "no candidate could be exported within the "
            f"budget; the best model ({best.trial.algorithm}) is returned without ONNX"))
        number = best.trial.number
        return FinalResult(self._model({number: 1}, by_number), number, best.predictions)

    def _attempt(self, trial: TrialResult, members: dict[int, int],
                 by_number: dict[int, Candidate],
                 attempts: list[tuple[TrialResult, dict[int, int]]]) -> FinalResult | None:
        if trial.number in self.stacks:  # never under ONNX: no check to make
            stack = self.stacks[trial.number]
            return FinalResult(self._stack_model(stack, by_number), trial.number,
                               stack.predictions)
        model = self._model(members, by_number)
        preds = blend([by_number[n].predictions for n in members], list(members.values()))
        if not self.onnx:
            return FinalResult(model, trial.number, preds)
        first_single = len(members) == 1 and not self.tried_single
        self.tried_single = self.tried_single or len(members) == 1
        onx, error, why = self._onnx(model, force=first_single)
        self._note_error(trial, error)
        if onx is not None:
            self.notes.append(guardrail("ONNX compatibility", "Done",
                                        f"exported {trial.algorithm} (trial {trial.number}); "
                                        f"max relative error {error:.2g}"))
            return FinalResult(model, trial.number, preds, onx, error)
        self.notes.append(guardrail("ONNX compatibility", "Alerted",
                                    f"{trial.algorithm} (trial {trial.number}) not exported: "
                                    f"{why}"))
        if len(members) > 1 and math.isfinite(error):
            keep = {}
            for n, count in members.items():
                _, own, _ = self._onnx(self._model({n: 1}, by_number))
                self._note_error(by_number[n].trial, own)
                if own <= onnx_export.PARITY_LIMIT:
                    keep[n] = count
            if len(keep) < len(members):
                smaller = self._rescored(trial, keep, by_number)
                if smaller is not None:
                    attempts.insert(0, smaller)
        return None

    def _rescored(self, trial: TrialResult, keep: dict[int, int],
                  by_number: dict[int, Candidate]) -> tuple[TrialResult, dict[int, int]] | None:
        """The ensemble of ``keep`` only, if it still beats the best single model."""
        if trial.number in self.stacks:
            return self._restacked(trial, list(keep), by_number)
        if len(keep) < 2:
            return None
        y_eval = self.y[self.eval_rows]
        preds = blend([by_number[n].predictions for n in keep], list(keep.values()))
        task, metric = self.spec.task, self.spec.primary_metric
        score = primary_score(task, metric, y_eval, preds, self.y_range)
        if not better(metric, score, self.best_single):
            return None
        metrics = all_metrics(task, y_eval, preds, self.y_range)
        total = sum(keep.values())
        smaller = replace(trial, metrics=metrics, score=score, hyperparameters={
            "ensembled_iterations": list(keep),
            "ensembled_algorithms": [by_number[n].algorithm for n in keep],
            "ensemble_weights": [c / total for c in keep.values()]})
        self.checked[trial.number] = smaller
        return smaller, keep

    def _restacked(self, trial: TrialResult, keep: list[int],
                   by_number: dict[int, Candidate]) -> tuple[TrialResult, dict[int, int]] | None:
        """The StackEnsemble of ``keep`` only (its meta-learner fitted and scored again), if it
        still beats the best single model."""
        if len(keep) < 2:
            return None
        y_eval = self.y[self.eval_rows]
        task, metric = self.spec.task, self.spec.primary_metric
        left = self.hard - time.time() - self.importance_part if self.budget else None
        stack = fit_stack(task, keep, [by_number[n].predictions for n in keep], y_eval,
                          self.spec.seed, None if left is None else max(0.0, left))
        if stack is None:
            return None
        metrics = all_metrics(task, y_eval, stack.predictions, self.y_range)
        score = metrics.get(metric, math.nan)
        if not better(metric, score, self.best_single):
            return None
        smaller = replace(trial, metrics=metrics, score=score, hyperparameters=describe_stack(
            stack, [by_number[n].algorithm for n in keep]))
        self.checked[trial.number] = smaller
        self.stacks[trial.number] = stack
        return smaller, dict.fromkeys(keep, 1)

    def _importance(self, model: Any) -> dict[str, float]:
        if not self.explain:
            return {}
        seconds = 120.0
        if self.budget:
            left = self.hard - time.time() - 0.5
            seconds = min(left, max(2 * self.importance_part, 0.25 * self.budget))
        check = self._check_frame()
        used = [c.name for c in self.plan.used()]
        rows = check.index.to_numpy()
        y = self.y[rows]
        task, metric = self.spec.task, self.spec.primary_metric
        y_range = self.y_range

        def scorer(est: Any, X: pd.DataFrame, truth: np.ndarray) -> float:
            pred = est.predict_proba(X) if task is Task.CLASSIFICATION else est.predict(X)
            value = primary_score(task, metric, truth, pred, y_range)
            return value if self.spec.maximize else -value

        scores = feature_importance(model, check[used], y, used, scorer, seconds,
                                    self.spec.seed)
        if scores:
            for c in self.plan.columns:
                scores.setdefault(c.name, 0.0)
        return scores
