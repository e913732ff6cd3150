"""The production-pipeline tutorial, as written for Azure ML, with only its imports changed.

Run it from this folder:  python pipeline.py
It registers the credit-card data, an environment, a data-prep component (built with
``command()``) and a training component (``load_component`` of ``train.yml``), builds the
pipeline with ``@dsl.pipeline``, submits it and streams its logs.
"""

import os

# Azure:  from azure.ai.ml import MLClient, command, Input, Output, dsl, load_component
from lakeworks import MLClient, command, Input, Output, dsl, load_component

# Azure:  from azure.ai.ml.entities import Data, Environment
from lakeworks.entities import Data, Environment

# Azure:  from azure.ai.ml.constants import AssetTypes
from lakeworks.constants import AssetTypes

# Azure:  from azure.identity import DefaultAzureCredential
from lakeworks.identity import DefaultAzureCredential

HERE = os.path.dirname(os.path.abspath(__file__))
# The data set ships with Lakeworks (UCI, CC BY 4.0; see its README).
from lakeworks.sample_data import dataset_path

DATA = os.environ.get("CREDIT_DATA", str(dataset_path("credit-card-default")))

credential = DefaultAzureCredential()
ml_client = MLClient(
    credential=credential,
    subscription_id="00000000-0000-0000-0000-000000000000",
    resource_group_name="local",
    workspace_name=os.environ.get("WORKSPACE_NAME", "tutorial"),
)
ws = ml_client.workspaces.get(ml_client.workspace_name)
print(ws.location, ":", ws.resource_group)

# The earlier tutorial registers the data; do it here if needed.
try:
    credit_data = ml_client.data.get(name="credit-card", version="initial")
except LookupError:
    credit_data = ml_client.data.create_or_update(
        Data(name="credit-card", version="initial", type=AssetTypes.URI_FILE, path=DATA,
             description="UCI default of credit card clients (CC BY 4.0)")
    )
print(f"Data asset URI: {credit_data.path}")

dependencies_dir = os.path.join(HERE, "dependencies")
pipeline_job_env = Environment(
    name="aml-scikit-learn",
    description="Custom environment for Credit Card Defaults pipeline",
    tags={"scikit-learn": "0.24.2"},
    conda_file=os.path.join(dependencies_dir, "conda.yaml"),
    image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
    version="0.2.0",
)
pipeline_job_env = ml_client.environments.create_or_update(pipeline_job_env)
print(f"Environment {pipeline_job_env.name} registered with version {pipeline_job_env.version}")

data_prep_src_dir = os.path.join(HERE, "components", "data_prep")
data_prep_component = command(
    name="data_prep_credit_defaults",
    display_name="Data preparation for training",
    description="Splits input data into train and test sets",
    inputs={"data": Input(type="uri_folder"), "test_train_ratio": Input(type="number")},
    outputs={"train_data": Output(type="uri_folder"), "test_data": Output(type="uri_folder")},
    code=data_prep_src_dir,
    command="python data_prep.py --data ${{inputs.data}} --test_train_ratio "
    "${{inputs.test_train_ratio}} --train_data ${{outputs.train_data}} "
    "--test_data ${{outputs.test_data}}",
    environment=f"{pipeline_job_env.name}:{pipeline_job_env.version}",
)
data_prep_component = ml_client.create_or_update(data_prep_component.component)
print(f"Component {data_prep_component.name} with Version {data_prep_component.version} is registered")

train_src_dir = os.path.join(HERE, "components", "train")
train_component = load_component(source=os.path.join(train_src_dir, "train.yml"))
train_component = ml_client.create_or_update(train_component)
print(f"Component {train_component.name} with Version {train_component.version} is registered")


@dsl.pipeline(compute="serverless", description="E2E data_perp-train pipeline")
def credit_defaults_pipeline(pipeline_job_data_input, pipeline_job_test_train_ratio,
                             pipeline_job_learning_rate, pipeline_job_registered_model_name):
    data_prep_job = data_prep_component(
        data=pipeline_job_data_input, test_train_ratio=pipeline_job_test_train_ratio
    )
    train_job = train_component(
        train_data=data_prep_job.outputs.train_data,
        test_data=data_prep_job.outputs.test_data,
        learning_rate=pipeline_job_learning_rate,
        registered_model_name=pipeline_job_registered_model_name,
    )
    return {
        "pipeline_job_train_data": data_prep_job.outputs.train_data,
        "pipeline_job_test_data": data_prep_job.outputs.test_data,
    }


registered_model_name = "credit_defaults_model"
pipeline = credit_defaults_pipeline(
    pipeline_job_data_input=Input(type="uri_file", path=credit_data.path),
    pipeline_job_test_train_ratio=0.25,
    pipeline_job_learning_rate=0.05,
    pipeline_job_registered_model_name=registered_model_name,
)

pipeline_job = ml_client.jobs.create_or_update(pipeline, experiment_name="e2e_registered_components")
ml_client.jobs.stream(pipeline_job.name)
