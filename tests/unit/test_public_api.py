"""The public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import lakeworks
import lakeworks.entities


def test_top_level_names() -> None:
    assert sorted(lakeworks.__all__) == [
        "Input", "MLClient", "Output", "__version__", "automl", "command", "dsl", "load_component",
        "load_data", "load_datastore", "load_environment", "load_job", "load_model",
        "load_online_deployment", "load_online_endpoint", "spark",
    ]
    for name in lakeworks.__all__:
        assert getattr(lakeworks, name) is not None


def test_entity_names() -> None:
    assert sorted(lakeworks.entities.__all__) == [
        "AccountKeyConfiguration", "AzureBlobDatastore", "AzureDataLakeGen2Datastore",
        "BatchingSettings", "BuildContext", "CodeConfiguration", "Command", "CommandComponent",
        "CommandJob", "Data", "DataCollector", "Datastore", "DeploymentCollection",
        "EndpointAuthKeys", "EndpointAuthToken", "EnvVar", "Environment", "Job",
        "LocalDatastore", "ManagedOnlineDeployment", "ManagedOnlineEndpoint", "Model",
        "OnlineRequestSettings", "PipelineJob", "PipelineJobSettings", "ProbeSettings",
        "S3Credentials", "S3Datastore", "SasTokenConfiguration",
        "ServicePrincipalConfiguration", "SparkComponent", "SweepJob", "Workspace",
    ]


def test_spark_is_both_the_session_module_and_azures_builder() -> None:
    from lakeworks import Output, spark
    from lakeworks.entities import SparkComponent

    # `from azure.ai.ml import spark` code calls it; Lakeworks code uses `spark.session()`.
    job = spark(
        code=".", entry={"file": "prep.py"}, args="--out ${{outputs.out}}",
        outputs={"out": Output(type="uri_folder")}, conf={"spark.driver.memory": "1g"},
    )
    assert isinstance(job.component, SparkComponent)
    assert job.component.entry == {"file": "prep.py"}
    assert callable(spark.session)
    import lakeworks.spark as module

    assert module is spark
