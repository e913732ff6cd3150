"""Early termination of sweep trials: Azure's three policies and their decisions.

Owns ``BanditSpec``, ``MedianStoppingSpec`` and ``TruncationSelectionSpec`` (an
``evaluation_interval`` of 0, the SDK's default, means 1) and ``termination_reason``: given the
primary metric's values each trial has logged so far, whether a running trial should be
cancelled now. No I/O.

Intervals: each value a trial logs for the primary metric is one interval; interval ``n`` is
the trial's ``n``-th value. A policy is applied at the intervals that are multiples of
``evaluation_interval`` and at least ``delay_evaluation``, comparing the trial with every trial
(running or finished) that has reached the same interval:

* bandit: stop when the trial's best value so far is not within the slack of the best value
  any trial had reached by that interval (``slack_factor``: ``best / (1 + f)`` when
  maximizing, ``best * (1 + f)`` when minimizing; ``slack_amount``: ``best -/+ a``);
* median stopping: stop when the trial's best value so far is worse than the median of the
  trials' running averages up to that interval;
* truncation selection: stop when the trial's value at that interval is among the lowest
  ``truncation_percentage`` percent (rounded down) of the values at that interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lakeworks.errors import InvalidInputError

POLICY_TYPES = ("bandit", "median_stopping", "truncation_selection")


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluation_interval: int = Field(default=1, ge=0)
    delay_evaluation: int = Field(default=0, ge=0)

    @field_validator("evaluation_interval")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        return value or 1

    def evaluated_at(self, interval: int) -> bool:
        """Whether the policy is applied at ``interval`` (1-based)."""
        return (interval >= 1 and interval % self.evaluation_interval == 0
                and interval >= self.delay_evaluation)


class BanditSpec(_Policy):
    """Stop trials that fall outside a slack of the best trial."""

    type: Literal["bandit"] = "bandit"
    slack_factor: float = Field(default=0.0, ge=0)
    slack_amount: float = Field(default=0.0, ge=0)


class MedianStoppingSpec(_Policy):
    """Stop trials worse than the median of the trials' running averages."""

    type: Literal["median_stopping"] = "median_stopping"


class TruncationSelectionSpec(_Policy):
    """Stop the lowest ``truncation_percentage`` percent of trials at each interval."""

    type: Literal["truncation_selection"] = "truncation_selection"
    truncation_percentage: int = Field(ge=1, le=99)
    exclude_finished_jobs: bool = False


EarlyTermination = Annotated[
    BanditSpec | MedianStoppingSpec | TruncationSelectionSpec, Field(discriminator="type")
]


def policy_from(data: Mapping[str, object], where: str = "early_termination") -> EarlyTermination:
    """A policy from its YAML form (``{type: bandit, slack_factor: 0.1}``).

    Raises:
        InvalidInputError: an unknown type (naming the types allowed), a bad field, or a
            bandit policy with neither or both of ``slack_factor`` and ``slack_amount``.
    """
    kind = data.get("type")
    classes: dict[str, type[BanditSpec | MedianStoppingSpec | TruncationSelectionSpec]] = {
        "bandit": BanditSpec, "median_stopping": MedianStoppingSpec,
        "truncation_selection": TruncationSelectionSpec}
    cls = classes.get(str(kind))
    if cls is None:
        raise InvalidInputError(f"early termination type {kind!r} is not known",
                                field=f"{where}.type", allowed=POLICY_TYPES)
    try:
        policy: EarlyTermination = cls.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join([where, *(str(p) for p in err["loc"])])
        raise InvalidInputError(str(err["msg"]), field=field) from None
    if isinstance(policy, BanditSpec) and (policy.slack_factor > 0) == (policy.slack_amount > 0):
        raise InvalidInputError("a bandit policy needs exactly one of slack_factor and "
                                "slack_amount", field=f"{where}.slack_factor")
    return policy


def _best(goal: str, values: Sequence[float]) -> float:
    return max(values) if goal == "maximize" else min(values)


def _worse(goal: str, a: float, b: float) -> bool:
    return a < b if goal == "maximize" else a > b


def _decide(
    policy: EarlyTermination, goal: str, trial: str, k: int,
    histories: Mapping[str, Sequence[float]], finished: frozenset[str],
) -> str | None:
    own = histories[trial][:k]
    peers = {name: h[:k] for name, h in histories.items() if len(h) >= k}
    if isinstance(policy, BanditSpec):
        top = _best(goal, [_best(goal, h) for h in peers.values()])
        mine = _best(goal, own)
        sign = 1 if goal == "maximize" else -1
        if policy.slack_factor:
            limit = top / (1 + policy.slack_factor) if sign > 0 else top * (1 + policy.slack_factor)
            slack = f"slack factor {policy.slack_factor}"
        else:
            limit = top - sign * policy.slack_amount
            slack = f"slack amount {policy.slack_amount}"
        if _worse(goal, mine, limit):
            return (f"bandit policy at interval {k}: best {mine:.6g} is outside the "
                    f"{slack} of the best trial's {top:.6g} (limit {limit:.6g})")
        return None
    if isinstance(policy, MedianStoppingSpec):
        averages = [sum(h) / len(h) for h in peers.values()]
        middle = median(averages)
        mine = _best(goal, own)
        if _worse(goal, mine, middle):
            return (f"median stopping at interval {k}: best {mine:.6g} is worse than the median "
                    f"{middle:.6g} of {len(averages)} trials' running averages")
        return None
    if policy.exclude_finished_jobs:
        peers = {n: h for n, h in peers.items() if n not in finished or n == trial}
    values = [h[k - 1] for h in peers.values()]
    cut = math.floor(len(values) * policy.truncation_percentage / 100)
    mine = own[k - 1]
    worse_than_mine = sum(1 for v in values if _worse(goal, v, mine))
    if worse_than_mine < cut:
        return (f"truncation selection at interval {k}: {mine:.6g} is among the lowest "
                f"{policy.truncation_percentage}% of {len(values)} trials")
    return None


def termination_reason(
    policy: EarlyTermination,
    goal: str,
    trial: str,
    histories: Mapping[str, Sequence[float]],
    *,
    evaluated: int = 0,
    finished: frozenset[str] = frozenset(),
) -> tuple[str | None, int]:
    """Whether running ``trial`` should be cancelled, checking the intervals it newly reached.

    Args:
        policy: the early termination policy.
        goal: ``maximize`` or ``minimize``.
        trial: the trial to judge (a key of ``histories``).
        histories: each trial's primary-metric values in the order it logged them.
        evaluated: intervals of ``trial`` already judged (skipped now).
        finished: trials that have ended (for ``exclude_finished_jobs``).

    Returns:
        The reason to cancel (or None), and the number of intervals judged so far.

    Example:
        >>> termination_reason(BanditSpec(slack_amount=0.1), "maximize", "b",
        ...                    {"a": [0.9], "b": [0.5]})[0] is not None
        True
    """
    reached = len(histories.get(trial, ()))
    for k in range(evaluated + 1, reached + 1):
        if policy.evaluated_at(k):
            reason = _decide(policy, goal, trial, k, histories, finished)
            if reason is not None:
                return reason, k
    return None, reached
