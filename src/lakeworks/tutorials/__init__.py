"""Tutorials shipped with Lakeworks, runnable as written (Azure code with imports changed).

``production_pipeline``: Azure ML's "create production machine learning pipelines" tutorial on
the credit-card default data: a data-prep component built with ``command()``, a training
component from YAML, an ``@dsl.pipeline``, MLflow tracking and model registration; also as
``pipeline.yml`` for ``lakeworks job create``. ``lakeworks quickstart`` copies it into a new
workspace and runs it (``quickstart.py``). ``synapse_lab``: the Synapse lab's Spark job
(``prepare.yml``) that saves the lake tables ``bike_data`` and ``weather_forecast``;
``lakeworks quickstart`` then runs the whole lab (``synapse_lab_demo.py``: Spark, AutoML,
PREDICT in SQL).
"""

from __future__ import annotations

from pathlib import Path

TUTORIALS = Path(__file__).resolve().parent


def tutorial_path(name: str) -> Path:
    """The folder of a shipped tutorial (``production_pipeline``, ``synapse_lab``)."""
    return TUTORIALS / name
