"""The search: which configuration to try next, on which worker, and when to stop.

Owns the order of trials (every allowed algorithm's low-cost defaults first, strongest
families first; then Optuna's TPE, seeded by ``spec.seed``, over the algorithms whose best
score so far is among the top few), the limits (the time left for the search, the per-trial
time limit, ``max_trials``, ``exit_score``, early termination: after 20 trials, stop when the
last 10 brought no improvement, as Azure does; left unset it is on only when no
``timeout_minutes`` bounds the run, so a budget is used whole, as FLAML uses its
``time_budget``), ``max_concurrent_trials`` trials at once, and
turning worker results into leaderboard rows. Must not fit models itself (workers do) nor
build the final model (``engine`` does).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from lakeworks.adapters.automl.learners import LEARNERS, Context
from lakeworks.adapters.automl.metrics import all_metrics, better, loss
from lakeworks.adapters.automl.results import StopReason, TrialResult
from lakeworks.adapters.automl.workers import Event, Job, Pool
from lakeworks.core.automl import AutoMLSpec

log = logging.getLogger(__name__)

#: Azure's early termination: never before this many trials, then this window.
EARLY_STOP_AFTER = 20
EARLY_STOP_WINDOW = 10
#: Algorithms the TPE phase keeps (best score so far).
TOP_ALGORITHMS = 4
#: One trial may use at most this share of the search time (and at least the floor).
TRIAL_SHARE, TRIAL_FLOOR = 0.25, 10.0
#: Algorithms whose training grows with the square of the rows are skipped above this.
QUADRATIC = {"SVM": 10_000}


@dataclass
class Candidate:
    """A completed trial and what the ensemble and the refit need of it."""

    trial: TrialResult
    algorithm: str
    params: dict[str, Any]
    predictions: np.ndarray


@dataclass
class SearchState:
    trials: list[TrialResult] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    best: Candidate | None = None
    since_best: int = 0
    dispatched: int = 0


def _suggest(trial: optuna.Trial, name: str, dist: Any) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    raise TypeError(f"unsupported distribution {dist!r}")


def refit_params(candidate: Candidate) -> dict[str, Any]:
    """The configuration a refit on all rows uses (boosted: the rounds validation kept)."""
    rounds = candidate.trial.hyperparameters.get("n_estimators")
    params = dict(candidate.params)
    if LEARNERS[candidate.algorithm].boosted and rounds:
        params["n_estimators"] = int(rounds)
    return params


class Search:
    """One search over ``pool``; ``run`` returns when a limit is reached."""

    def __init__(self, spec: AutoMLSpec, pool: Pool, context: Context, algorithms: list[str],
                 y_eval: np.ndarray, y_range: float, folds: int, *,
                 deadline: Callable[[], float], on_trial: Callable[[TrialResult], None] | None,
                 should_stop: Callable[[], bool] | None) -> None:
        self.spec = spec
        self.pool = pool
        self.context = context
        self.algorithms = [a for a in algorithms
                           if context.rows <= QUADRATIC.get(a, math.inf)] or algorithms
        self.y_eval = y_eval
        self.y_range = y_range
        self.folds = folds
        self.deadline = deadline
        self.on_trial = on_trial
        self.should_stop = should_stop
        self.state = SearchState()
        self.queue = [(name, config) for round_ in range(3) for name in self.algorithms
                      for i, config in enumerate(LEARNERS[name].defaults(context))
                      if i == round_]
        self.study: optuna.Study | None = None
        self.asked: dict[int, optuna.Trial] = {}
        self.durations: dict[str, list[float]] = {}
        self.winding_down = False
        self.started = time.time()

    # -- what to try ----------------------------------------------------------------------

    def _open_study(self) -> optuna.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        best: dict[str, float] = {}
        for c in self.state.candidates:
            score = loss(self.spec.primary_metric, c.trial.score or math.nan)
            best[c.algorithm] = min(best.get(c.algorithm, math.inf), score)
        ranked = sorted(best, key=lambda a: best[a])[:TOP_ALGORITHMS] or self.algorithms[:1]
        self.top = ranked
        sampler = optuna.samplers.TPESampler(
            seed=self.spec.seed, multivariate=True, group=True, constant_liar=True,
            n_startup_trials=5)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        choice = CategoricalDistribution(tuple(ranked))
        for c in self.state.candidates:
            if c.algorithm not in ranked:
                continue
            space = LEARNERS[c.algorithm].space(self.context)
            params = {"algorithm": c.algorithm,
                      **{f"{c.algorithm}:{k}": v for k, v in c.params.items() if k in space}}
            dists = {"algorithm": choice,
                     **{f"{c.algorithm}:{k}": space[k] for k in c.params if k in space}}
            try:
                study.add_trial(optuna.trial.create_trial(
                    params=params, distributions=dists,
                    value=loss(self.spec.primary_metric, c.trial.score or math.nan)))
            except ValueError:
                log.debug("default of %s is outside its search space", c.algorithm)
        return study

    def _next(self) -> tuple[str, dict[str, Any], optuna.Trial | None]:
        if self.queue:
            name, config = self.queue.pop(0)
            return name, dict(config), None
        if self.study is None:
            self.study = self._open_study()
        trial = self.study.ask()
        name = str(trial.suggest_categorical("algorithm", tuple(self.top)))
        space = LEARNERS[name].space(self.context)
        params = {k: _suggest(trial, f"{name}:{k}", d) for k, d in space.items()}
        return name, params, trial

    # -- limits ---------------------------------------------------------------------------

    def _trial_deadline(self, now: float) -> float:
        search_left = self.deadline() - now
        cap = self.spec.limits.trial_timeout_minutes
        limit = cap * 60.0 if cap else math.inf
        total = self.deadline() - self.started
        return now + min(limit, search_left, max(TRIAL_SHARE * total, TRIAL_FLOOR))

    def _stop_reason(self) -> StopReason | None:
        limits = self.spec.limits
        s = self.state
        if self.should_stop is not None and self.should_stop():
            return "canceled"
        if time.time() >= self.deadline() or (self.winding_down and not self.pool.busy()):
            return "timeout"
        if limits.exit_score is not None and s.best is not None and s.best.trial.score is not None:
            target = limits.exit_score
            score = s.best.trial.score
            if (score >= target) if self.spec.maximize else (score <= target):
                return "exit_score"
        early = limits.enable_early_termination
        if early is None:  # unset: on only when no time budget bounds the run
            early = limits.timeout_minutes is None
        finished = len(s.trials)
        if early and finished >= EARLY_STOP_AFTER and s.since_best >= EARLY_STOP_WINDOW:
            return "early_termination"
        if limits.max_trials is not None and s.dispatched >= limits.max_trials:
            return "max_trials"
        return None

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> StopReason:
        reason: StopReason | None = None
        while True:
            reason = reason or self._stop_reason()
            if reason is None:
                for _ in self.pool.idle():
                    if self.winding_down or self._stop_reason() == "max_trials":
                        break
                    self._dispatch()
            elif reason != "max_trials" or time.time() >= self.deadline():
                for job in self.pool.busy():
                    self._record_canceled(job, "canceled: the search ended "
                                          f"({reason.replace('_', ' ')})")
                self.pool.kill_busy()
                return reason
            elif not self.pool.busy():
                return reason
            for event in self.pool.wait(0.2):
                self._handle(event)

    def _expected(self, name: str) -> float:
        """The median duration of ``name``'s finished trials (0 before the first)."""
        seen = self.durations.get(name)
        return float(np.median(seen)) if seen else 0.0

    def _dispatch(self) -> None:
        """Start the next configuration that can finish before the search ends."""
        left = self.deadline() - time.time()
        for _ in range(5):
            name, params, trial = self._next()
            if self._expected(name) < left:
                break
            if trial is not None and self.study is not None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.winding_down = True
            return
        number = self.state.dispatched
        self.state.dispatched += 1
        if trial is not None:
            self.asked[number] = trial
        now = time.time()
        self.pool.submit(Job("trial", number, name, params, self._trial_deadline(now), now))

    def _handle(self, event: Event) -> None:
        job = event.job
        if event.kind == "timeout":
            self._record_canceled(job, "canceled: the trial ran past its time limit")
            return
        if event.kind == "died" or event.error is not None:
            self._finish(job, None, event.seconds or time.time() - job.started,
                         event.error or "the trial failed")
            return
        predictions, rounds = event.result
        self._finish(job, (predictions, rounds), event.seconds, None)

    def _record_canceled(self, job: Job, why: str) -> None:
        row = TrialResult(job.key, job.algorithm, job.params.get("scaler"), dict(job.params),
                          {}, None, "Canceled", time.time() - job.started, job.started, why)
        self._publish(row)
        trial = self.asked.pop(job.key, None)
        if trial is not None and self.study is not None:
            worst = max((t.value for t in self.study.trials if t.value is not None),
                        default=None)
            if worst is None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, worst)

    def _finish(self, job: Job, result: tuple[np.ndarray, list[int | None]] | None,
                seconds: float, error: str | None) -> None:
        params = dict(job.params)
        trial = self.asked.pop(job.key, None)
        if result is None:
            row = TrialResult(job.key, job.algorithm, params.get("scaler"), params, {}, None,
                              "Failed", seconds, job.started, error)
            self._publish(row)
            if trial is not None and self.study is not None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        predictions, rounds = result
        kept = [r for r in rounds if r]
        hyper = dict(params)
        if kept:
            hyper["n_estimators"] = max(1, round(float(np.mean(kept)) * 1.1))
        metrics = all_metrics(self.spec.task, self.y_eval, predictions, self.y_range)
        score = metrics.get(self.spec.primary_metric, math.nan)
        row = TrialResult(job.key, job.algorithm, params.get("scaler"), hyper, metrics,
                          None if math.isnan(score) else score, "Completed", seconds,
                          job.started)
        self.durations.setdefault(job.algorithm, []).append(seconds)
        candidate = Candidate(row, job.algorithm, params, predictions)
        s = self.state
        s.candidates.append(candidate)
        if s.best is None or better(self.spec.primary_metric, row.score,
                                    s.best.trial.score):
            s.best = candidate
            s.since_best = 0
        else:
            s.since_best += 1
        self._publish(row)
        if trial is not None and self.study is not None:
            self.study.tell(trial, loss(self.spec.primary_metric, score))

    def _publish(self, row: TrialResult) -> None:
        self.state.trials.append(row)
        if self.on_trial is not None:
            self.on_trial(row)
