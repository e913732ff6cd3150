"""The production-pipeline tutorial's last part: deploy the model to an online endpoint.

Run it from this folder after ``python pipeline.py``:  python deploy.py
It creates a key-authenticated online endpoint, deploys the latest ``credit_defaults_model``
as deployment ``blue``, sends ``deploy/sample-request.json`` to it and prints the answer, then
deletes the endpoint (set ``KEEP_ENDPOINT=1`` to keep it and call it yourself).
"""

import os
import uuid

# Azure:  from azure.ai.ml import MLClient
from lakeworks import MLClient

# Azure:  from azure.ai.ml.entities import ManagedOnlineEndpoint, ManagedOnlineDeployment
from lakeworks.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

# Azure:  from azure.identity import DefaultAzureCredential
from lakeworks.identity import DefaultAzureCredential

HERE = os.path.dirname(os.path.abspath(__file__))

ml_client = MLClient(
    credential=DefaultAzureCredential(),
    subscription_id="00000000-0000-0000-0000-000000000000",
    resource_group_name="local",
    workspace_name=os.environ.get("WORKSPACE_NAME", "tutorial"),
)

online_endpoint_name = "credit-endpoint-" + str(uuid.uuid4())[:8]
endpoint = ManagedOnlineEndpoint(
    name=online_endpoint_name,
    description="an online endpoint for the credit defaults model",
    auth_mode="key",
    tags={"training_dataset": "credit_defaults", "model_type": "sklearn.GradientBoostingClassifier"},
)
endpoint_result = ml_client.begin_create_or_update(endpoint).result()
print(f"Endpoint {endpoint_result.name} provisioning state: {endpoint_result.provisioning_state}")

endpoint = ml_client.online_endpoints.get(name=online_endpoint_name)
print(f'Endpoint "{endpoint.name}" with provisioning state "{endpoint.provisioning_state}" is retrieved')

registered_model_name = "credit_defaults_model"
latest_model_version = max(int(m.version) for m in ml_client.models.list(name=registered_model_name))
model = ml_client.models.get(name=registered_model_name, version=latest_model_version)

blue_deployment = ManagedOnlineDeployment(
    name="blue",
    endpoint_name=online_endpoint_name,
    model=model,
    instance_type="Standard_DS3_v2",  # recorded; locally every instance is one process
    instance_count=1,
)
blue_deployment_results = ml_client.online_deployments.begin_create_or_update(blue_deployment).result()
print(f"Deployment {blue_deployment_results.name} provisioning state: "
      f"{blue_deployment_results.provisioning_state}")

answer = ml_client.online_endpoints.invoke(
    endpoint_name=online_endpoint_name,
    request_file=os.path.join(HERE, "deploy", "sample-request.json"),
    deployment_name="blue",
)
print(f"Scoring answer: {answer}")

if os.environ.get("KEEP_ENDPOINT") == "1":
    print(f"Endpoint kept: {endpoint.scoring_uri}")
else:
    ml_client.online_endpoints.begin_delete(name=online_endpoint_name).result()
    print(f"Endpoint {online_endpoint_name} deleted")
