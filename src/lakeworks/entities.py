"""Entity classes, as ``azure.ai.ml.entities``: ``from lakeworks.entities import Data, Model``."""

from __future__ import annotations

from lakeworks.client.entities.assets import BuildContext, Data, Environment, Model, Workspace
from lakeworks.client.entities.components import Command, CommandComponent
from lakeworks.client.entities.datastores import (
    AccountKeyConfiguration,
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    Datastore,
    EnvVar,
    LocalDatastore,
    S3Credentials,
    S3Datastore,
    SasTokenConfiguration,
    ServicePrincipalConfiguration,
)
from lakeworks.client.entities.jobs import CommandJob, Job, PipelineJob, PipelineJobSettings
from lakeworks.client.entities.spark import SparkComponent
from lakeworks.client.entities.sweep import SweepJob

__all__ = [
    "AccountKeyConfiguration",
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "BuildContext",
    "Command",
    "CommandComponent",
    "CommandJob",
    "Data",
    "Datastore",
    "EnvVar",
    "Environment",
    "Job",
    "LocalDatastore",
    "Model",
    "PipelineJob",
    "PipelineJobSettings",
    "S3Credentials",
    "S3Datastore",
    "SasTokenConfiguration",
    "ServicePrincipalConfiguration",
    "SparkComponent",
    "SweepJob",
    "Workspace",
]
