"""Sweep settings with Azure ML's shape: distributions, policies, algorithms, objective, limits.

Owns the mutable SDK classes of ``azure.ai.ml.sweep`` that describe a sweep (``Choice``,
``Uniform``, ... ``Randint``; ``BanditPolicy``, ``MedianStoppingPolicy``,
``TruncationSelectionPolicy``; ``RandomSamplingAlgorithm``, ``GridSamplingAlgorithm``,
``BayesianSamplingAlgorithm``; ``Objective``; ``SweepJobLimits``), each turning into its
checked core spec (``core.search_space``, ``core.sweep``, ``core.sweep_policies``). The sweep
job itself is ``entities.sweep.SweepJob``.

Example:
    >>> Choice([0.01, 0.1])._to_spec("search_space.lr").values
    (0.01, 0.1)
"""

from __future__ import annotations

from typing import Any

from lakeworks.core.search_space import Distribution, distribution_from
from lakeworks.core.sweep import SamplingSpec, sampling_from
from lakeworks.core.sweep_policies import EarlyTermination, policy_from


class SweepDistribution:
    """A distribution of hyperparameter values (the base of ``Choice``, ``Uniform``...)."""

    type: str = ""
    _fields: tuple[str, ...] = ()

    def _to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **{f: getattr(self, f) for f in self._fields}}

    def _to_spec(self, where: str) -> Distribution:
        """The checked core distribution; errors name ``where`` (``search_space.lr``)."""
        data = {k: v for k, v in self._to_dict().items() if v is not None}
        if "values" in data:
            data["values"] = tuple(data["values"])
        return distribution_from(data, where)

    @classmethod
    def _from_spec(cls, spec: Distribution) -> SweepDistribution:
        out = _CLASSES[spec.type]()
        for name in out._fields:
            value = getattr(spec, name)
            setattr(out, name, list(value) if isinstance(value, tuple) else value)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"


class Choice(SweepDistribution):
    """One of ``values``."""

    type = "choice"
    _fields = ("values",)

    def __init__(self, values: list[Any] | None = None, **kwargs: Any) -> None:
        self.values = list(values) if values is not None else None


class _Range(SweepDistribution):
    _fields = ("min_value", "max_value")

    def __init__(self, min_value: float | None = None, max_value: float | None = None,
                 **kwargs: Any) -> None:
        self.min_value = min_value
        self.max_value = max_value


class Uniform(_Range):
    """Uniform between ``min_value`` and ``max_value``."""

    type = "uniform"


class LogUniform(_Range):
    """``exp(uniform(min_value, max_value))``: log-uniform between ``exp(min)`` and ``exp(max)``."""

    type = "loguniform"


class _QRange(SweepDistribution):
    _fields = ("min_value", "max_value", "q")

    def __init__(self, min_value: float | None = None, max_value: float | None = None,
                 q: float | None = None, **kwargs: Any) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.q = q


class QUniform(_QRange):
    """``round(uniform(min_value, max_value) / q) * q``."""

    type = "quniform"


class QLogUniform(_QRange):
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""

    type = "qloguniform"


class _Gaussian(SweepDistribution):
    _fields = ("mu", "sigma")

    def __init__(self, mu: float | None = None, sigma: float | None = None,
                 **kwargs: Any) -> None:
        self.mu = mu
        self.sigma = sigma


class Normal(_Gaussian):
    """Normal with mean ``mu`` and standard deviation ``sigma``."""

    type = "normal"


class LogNormal(_Gaussian):
    """``exp(normal(mu, sigma))``."""

    type = "lognormal"


class _QGaussian(SweepDistribution):
    _fields = ("mu", "sigma", "q")

    def __init__(self, mu: float | None = None, sigma: float | None = None,
                 q: float | None = None, **kwargs: Any) -> None:
        self.mu = mu
        self.sigma = sigma
        self.q = q


class QNormal(_QGaussian):
    """``round(normal(mu, sigma) / q) * q``."""

    type = "qnormal"


class QLogNormal(_QGaussian):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    type = "qlognormal"


class Randint(SweepDistribution):
    """An integer from 0 up to, but not including, ``upper``."""

    type = "randint"
    _fields = ("upper",)

    def __init__(self, upper: int | None = None, **kwargs: Any) -> None:
        self.upper = upper


_CLASSES: dict[str, type[SweepDistribution]] = {
    c.type: c for c in (Choice, Uniform, LogUniform, QUniform, QLogUniform, Normal, LogNormal,
                        QNormal, QLogNormal, Randint)
}


# -- early termination ------------------------------------------------------------------------


class EarlyTerminationPolicy:
    """The base of Azure's early termination policies."""

    type: str = ""

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 0) -> None:
        self.delay_evaluation = delay_evaluation
        self.evaluation_interval = evaluation_interval

    def _to_spec(self) -> EarlyTermination:
        return policy_from({"type": self.type, **vars(self)})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class BanditPolicy(EarlyTerminationPolicy):
    """Cancel trials whose metric is not within a slack of the best trial's.

    Example:
        >>> BanditPolicy(slack_factor=0.1, delay_evaluation=5)._to_spec().evaluation_interval
        1
    """

    type = "bandit"

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 0,
                 slack_amount: float = 0, slack_factor: float = 0) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)
        self.slack_amount = slack_amount
        self.slack_factor = slack_factor


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Cancel trials worse than the median of all trials' running averages."""

    type = "median_stopping"

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 1) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Cancel the lowest ``truncation_percentage`` percent of trials at each interval."""

    type = "truncation_selection"

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 0,
                 truncation_percentage: int = 0, exclude_finished_jobs: bool = False) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)
        self.truncation_percentage = truncation_percentage
        self.exclude_finished_jobs = exclude_finished_jobs


def policy_entity(spec: EarlyTermination) -> EarlyTerminationPolicy:
    """The SDK object of a checked policy."""
    fields = spec.model_dump(exclude={"type"})
    if spec.type == "bandit":
        return BanditPolicy(**fields)
    if spec.type == "median_stopping":
        return MedianStoppingPolicy(**fields)
    return TruncationSelectionPolicy(**fields)


# -- sampling, objective, limits --------------------------------------------------------------


class SamplingAlgorithm:
    """The base of Azure's sampling algorithms."""

    type: str = ""

    def _to_spec(self) -> SamplingSpec:
        return sampling_from({"type": self.type})

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomSamplingAlgorithm(SamplingAlgorithm):
    """Random sampling; ``rule="sobol"`` draws a Sobol sequence; ``seed`` makes it repeatable.

    ``logbase`` is accepted for compatibility; log-scaled ranges use base e.
    """

    type = "random"

    def __init__(self, *, rule: str | None = None, seed: int | None = None,
                 logbase: float | str | None = None) -> None:
        self.rule = rule
        self.seed = seed
        self.logbase = logbase

    def _to_spec(self) -> SamplingSpec:
        return sampling_from({"type": "random", "rule": (self.rule or "random").lower(),
                              "seed": self.seed})

    def __repr__(self) -> str:
        return f"RandomSamplingAlgorithm(rule={self.rule!r}, seed={self.seed!r})"


class GridSamplingAlgorithm(SamplingAlgorithm):
    """Every combination of the search space's choices, once each."""

    type = "grid"


class BayesianSamplingAlgorithm(SamplingAlgorithm):
    """Bayesian optimization (Tree-structured Parzen Estimator)."""

    type = "bayesian"


def sampling_spec(value: str | SamplingAlgorithm | SamplingSpec | None) -> SamplingSpec:
    """A sampling algorithm given as a string, an SDK object or a core spec."""
    if isinstance(value, SamplingSpec):
        return value
    if isinstance(value, SamplingAlgorithm):
        return value._to_spec()
    return sampling_from(value or "random")


class Objective:
    """The metric to optimise and its goal (``maximize`` or ``minimize``)."""

    def __init__(self, goal: str | None = None, primary_metric: str | None = None) -> None:
        self.goal = goal
        self.primary_metric = primary_metric

    def __repr__(self) -> str:
        return f"Objective(goal={self.goal!r}, primary_metric={self.primary_metric!r})"


class SweepJobLimits:
    """Trial counts and time limits (seconds) of a sweep."""

    def __init__(self, *, max_concurrent_trials: int | None = None,
                 max_total_trials: int | None = None, timeout: int | None = None,
                 trial_timeout: int | None = None) -> None:
        self.max_concurrent_trials = max_concurrent_trials
        self.max_total_trials = max_total_trials
        self.timeout = timeout
        self.trial_timeout = trial_timeout

    def __repr__(self) -> str:
        return f"SweepJobLimits({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"
