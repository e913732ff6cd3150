"""Sampling port: what a sweep driver asks of a hyperparameter sampler.

A sampler proposes raw values on ``core.search_space.Dimension`` s (a categorical, a float range,
an integer range) and learns from the objective of each finished trial; turning raw values into
Azure's distributions is ``core.search_space.value_of``.
"""

from __future__ import annotations

from typing import Protocol

Scalar = str | int | float | bool


class Sampler(Protocol):
    """Proposes trials one at a time (ask) and is told how each one ended (tell)."""

    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        """The next trial's number and raw value per dimension; None when none are left."""
        ...

    def tell(self, number: int, value: float | None, *, pruned: bool = False) -> None:
        """Trial ``number`` ended with objective ``value`` (None: failed, or ``pruned``)."""
        ...
