"""Lakeworks: the Azure Machine Learning + Synapse workflow, on your own machine first.

The object model, as in Azure ML's SDK v2 (``azure.ai.ml``)::

    MLClient(workspace=PATH)                 a workspace folder (or MLClient.from_config())
    ├── data          Data                   versioned files/folders (uri_file, uri_folder, mltable)
    ├── environments  Environment            conda/pip environments, built as cached virtualenvs
    ├── components    CommandComponent       reusable steps: command + code + environment + I/O
    ├── jobs          Command / PipelineJob  runs of components; MLflow runs in the workspace
    ├── models        Model                  registered models with lineage to their job
    ├── datastores    AzureBlobDatastore ... named storage roots (local, S3, Azure Blob, ADLS Gen2)
    ├── lake          lake tables            Delta tables shared by Spark and SQL (ml_client.sql(...))
    ├── online_endpoints    ManagedOnlineEndpoint     real-time scoring URIs with keys and traffic
    ├── online_deployments  ManagedOnlineDeployment   models served behind an endpoint
    └── workspaces    Workspace              name, location, resource_group

Builders: ``command(...)``, ``automl.regression(...)``/``automl.classification(...)``,
``spark(...)`` (a Spark job; ``spark.session()`` is a SparkSession
on the workspace's lake), ``@dsl.pipeline``, ``load_component(...)``, ``load_job(...)``,
``Input``, ``Output``. Azure code runs with its imports changed from ``azure.ai.ml`` to
``lakeworks`` (entities from ``lakeworks.entities``, credentials from ``lakeworks.identity``).
Names are imported lazily so that ``lakeworks --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "MLClient": "lakeworks.client.ml_client",
    "command": "lakeworks.client.builders",
    "Input": "lakeworks.client.entities.io",
    "Output": "lakeworks.client.entities.io",
    "load_component": "lakeworks.client.loaders",
    "load_job": "lakeworks.client.loaders",
    "load_data": "lakeworks.client.loaders",
    "load_environment": "lakeworks.client.loaders",
    "load_model": "lakeworks.client.loaders",
    "load_datastore": "lakeworks.client.datastore_yaml",
    "load_online_endpoint": "lakeworks.client.endpoint_yaml",
    "load_online_deployment": "lakeworks.client.endpoint_yaml",
    "dsl": "lakeworks.dsl",
    "spark": "lakeworks.spark",
    "automl": "lakeworks.automl",
}

__all__ = [
    "Input",
    "MLClient",
    "Output",
    "__version__",
    "automl",
    "command",
    "dsl",
    "load_component",
    "load_data",
    "load_datastore",
    "load_environment",
    "load_job",
    "load_model",
    "load_online_deployment",
    "load_online_endpoint",
    "spark",
]

if TYPE_CHECKING:
    from lakeworks import automl, dsl, spark
    from lakeworks.client.builders import command
    from lakeworks.client.datastore_yaml import load_datastore
    from lakeworks.client.endpoint_yaml import load_online_deployment, load_online_endpoint
    from lakeworks.client.entities.io import Input, Output
    from lakeworks.client.loaders import (
        load_component,
        load_data,
        load_environment,
        load_job,
        load_model,
    )
    from lakeworks.client.ml_client import MLClient


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lakeworks' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name in ("dsl", "spark", "automl") else getattr(mod, name)
    globals()[name] = value
    return value
