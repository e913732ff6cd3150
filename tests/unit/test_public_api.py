"""The public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import lakeworks
import lakeworks.entities


def test_top_level_names() -> None:
    assert sorted(lakeworks.__all__) == [
        "Input", "MLClient", "Output", "__version__", "command", "dsl", "load_component",
        "load_data", "load_datastore", "load_environment", "load_job", "load_model",
    ]
    for name in lakeworks.__all__:
        assert getattr(lakeworks, name) is not None


def test_entity_names() -> None:
    assert sorted(lakeworks.entities.__all__) == [
        "AccountKeyConfiguration", "AzureBlobDatastore", "AzureDataLakeGen2Datastore",
        "BuildContext", "Command", "CommandComponent", "CommandJob", "Data", "Datastore",
        "EnvVar", "Environment", "Job", "LocalDatastore", "Model", "PipelineJob",
        "PipelineJobSettings", "S3Credentials", "S3Datastore", "SasTokenConfiguration",
        "ServicePrincipalConfiguration", "Workspace",
    ]
