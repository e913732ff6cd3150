"""The ``Sampler`` port on Optuna: every ``import optuna`` of Lakeworks is here.

Owns mapping a sweep's sampling algorithm to an Optuna sampler (random: ``RandomSampler``,
seeded; random with rule ``sobol``: ``QMCSampler(qmc_type="sobol")``, scrambled; grid: ``GridSampler``
over every combination of the choices, ending when all were proposed; bayesian:
``TPESampler``), each ``Dimension`` to an Optuna distribution, and the ask/tell cycle on an
in-memory study. Optuna's own logging and experimental warnings are kept quiet.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from lakeworks.core.search_space import Dimension
from lakeworks.core.sweep import SamplingSpec
from lakeworks.errors import InvalidInputError

Scalar = str | int | float | bool


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` at the end of the grid, which only
    works inside ``study.optimize``; ``OptunaSampler.ask`` counts the grid itself."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def _distribution(dim: Dimension) -> BaseDistribution:
    if dim.kind == "categorical":
        return CategoricalDistribution(list(dim.values))
    if dim.kind == "int":
        return IntDistribution(int(dim.low), int(dim.high))
    return FloatDistribution(dim.low, dim.high, log=dim.log)


def _sampler(dims: Mapping[str, Dimension], sampling: SamplingSpec) -> Any:
    seed = sampling.seed
    if sampling.type == "grid":
        space: dict[str, Any] = {}
        for name, dim in dims.items():
            if dim.kind != "categorical":
                raise InvalidInputError(f"grid sampling needs a choice for '{name}'",
                                        field=f"search_space.{name}")
            space[name] = list(dim.values)
        return _GridSampler(space, seed=seed)
    if sampling.type == "bayesian":
        return optuna.samplers.TPESampler(seed=seed)
    if sampling.rule == "sobol":
        # scrambled (seeded): an unscrambled Sobol sequence starts at the range's lower corner
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                          warn_independent_sampling=False)
    return optuna.samplers.RandomSampler(seed=seed)


class OptunaSampler:
    """Trials proposed by an in-memory Optuna study.

    Args:
        dimensions: what to draw for each hyperparameter.
        sampling: the algorithm, seed and rule.
        goal: ``maximize`` or ``minimize``.

    Example:
        >>> s = OptunaSampler({"k": Dimension(kind="int", low=0, high=3)}, SamplingSpec(seed=1),
        ...                   "maximize")
        >>> number, raw = s.ask()
        >>> 0 <= raw["k"] <= 3
        True
    """

    def __init__(
        self, dimensions: Mapping[str, Dimension], sampling: SamplingSpec, goal: str
    ) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._dims = {name: _distribution(dim) for name, dim in dimensions.items()}
        self._grid_size: int | None = None
        if sampling.type == "grid":
            size = 1
            for dim in dimensions.values():
                size *= len(dim.values)
            self._grid_size = size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._study = optuna.create_study(
                direction="maximize" if goal == "maximize" else "minimize",
                sampler=_sampler(dimensions, sampling),
            )
        self._trials: dict[int, optuna.trial.Trial] = {}

    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        """The next trial, or None once a grid has proposed every combination."""
        if self._grid_size is not None and len(self._trials) >= self._grid_size:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = self._study.ask(fixed_distributions=dict(self._dims))
        self._trials[trial.number] = trial
        return trial.number, dict(trial.params)

    def tell(self, number: int, value: float | None, *, pruned: bool = False) -> None:
        """Report how trial ``number`` ended (a value, a failure, or early termination)."""
        trial = self._trials.get(number)
        if trial is None:
            return
        if value is not None and not pruned:
            self._study.tell(trial, value)
        else:
            self._study.tell(trial, state=TrialState.PRUNED if pruned else TrialState.FAIL)
