"""Hyperparameter sweeps, as ``azure.ai.ml.sweep``.

Example:
    >>> from lakeworks import command
    >>> from lakeworks.sweep import BanditPolicy, Choice, LogUniform
    >>> train = command(
    ...     command="python train.py --lr ${{inputs.lr}} --depth ${{inputs.depth}}",
    ...     inputs={"lr": LogUniform(min_value=-6, max_value=-1), "depth": Choice([2, 4, 8])},
    ...     code="./src",
    ... )
    >>> sweep = train.sweep(primary_metric="val_accuracy", goal="maximize",
    ...                     sampling_algorithm="random")
    >>> sweep.set_limits(max_total_trials=8, max_concurrent_trials=2, timeout=3600)
    >>> sweep.early_termination = BanditPolicy(slack_factor=0.1, delay_evaluation=2)

Submit it with ``ml_client.jobs.create_or_update(sweep)``. Each trial is an ordinary command
job named ``<sweep>_<n>`` and tagged ``lakeworks.sweep_job=<sweep>``; each must log the
primary metric with ``mlflow.log_metric``. The best trial's outputs become the sweep's outputs,
and the sweep job records the best trial (tag ``best_child_run_id``), its metric and its
hyperparameters (params). ``lakeworks job show -n <sweep>`` lists the trials.
"""

from __future__ import annotations

from lakeworks.client.entities.search_space import (
    BanditPolicy,
    BayesianSamplingAlgorithm,
    Choice,
    GridSamplingAlgorithm,
    LogNormal,
    LogUniform,
    MedianStoppingPolicy,
    Normal,
    Objective,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    RandomSamplingAlgorithm,
    SweepJobLimits,
    TruncationSelectionPolicy,
    Uniform,
)
from lakeworks.client.entities.sweep import SweepJob

__all__ = [
    "BanditPolicy",
    "BayesianSamplingAlgorithm",
    "Choice",
    "GridSamplingAlgorithm",
    "LogNormal",
    "LogUniform",
    "MedianStoppingPolicy",
    "Normal",
    "Objective",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "Randint",
    "RandomSamplingAlgorithm",
    "SweepJob",
    "SweepJobLimits",
    "TruncationSelectionPolicy",
    "Uniform",
]
