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
from lakeworks.client.entities.endpoints import (
    BatchingSettings,
    CodeConfiguration,
    DataCollector,
    DeploymentCollection,
    EndpointAuthKeys,
    EndpointAuthToken,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    OnlineRequestSettings,
    ProbeSettings,
)
from lakeworks.client.entities.jobs import CommandJob, Job, PipelineJob, PipelineJobSettings
from lakeworks.client.entities.spark import SparkComponent
from lakeworks.client.entities.sweep import SweepJob

__all__ = [
    "AccountKeyConfiguration",
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "BatchingSettings",
    "BuildContext",
    "CodeConfiguration",
    "Command",
    "CommandComponent",
    "CommandJob",
    "Data",
    "DataCollector",
    "Datastore",
    "DeploymentCollection",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "EnvVar",
    "Environment",
    "Job",
    "LocalDatastore",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "Model",
    "OnlineRequestSettings",
    "PipelineJob",
    "PipelineJobSettings",
    "ProbeSettings",
    "S3Credentials",
    "S3Datastore",
    "SasTokenConfiguration",
    "ServicePrincipalConfiguration",
    "SparkComponent",
    "SweepJob",
    "Workspace",
]
