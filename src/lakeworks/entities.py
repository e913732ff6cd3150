"""Entity classes, as ``azure.ai.ml.entities``: ``from lakeworks.entities import Data, Model``."""

from __future__ import annotations

from lakeworks.client.entities.assets import BuildContext, Data, Environment, Model, Workspace
from lakeworks.client.entities.components import Command, CommandComponent
from lakeworks.client.entities.jobs import CommandJob, Job, PipelineJob, PipelineJobSettings

__all__ = [
    "BuildContext",
    "Command",
    "CommandComponent",
    "CommandJob",
    "Data",
    "Environment",
    "Job",
    "Model",
    "PipelineJob",
    "PipelineJobSettings",
    "Workspace",
]
