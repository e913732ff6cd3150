"""Hyperparameter samplers for sweep jobs (Optuna)."""

from __future__ import annotations

from lakeworks.adapters.sampling.optuna import OptunaSampler

__all__ = ["OptunaSampler"]
