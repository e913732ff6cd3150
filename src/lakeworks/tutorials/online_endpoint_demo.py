"""The quickstart's last step: the lab's model behind an online endpoint, called over HTTP.

Owns deploying ``rental-prediction-model`` (the version the Synapse lab registered) to the
key-authenticated online endpoint ``rentals-endpoint`` as deployment ``blue`` with all traffic
and its inputs and outputs collected to the lake, then sending the ten forecast days of
``weather_forecast`` to it in Azure's ``/score`` request shape, from a request file left in
the workspace, exactly as a client would (``online_endpoints.invoke``). Deploying the same model version again changes nothing, so a
second quickstart reuses the running deployment. Rendering is the CLI's job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeworks.client.entities.endpoints import (
    DataCollector,
    DeploymentCollection,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
)
from lakeworks.client.ml_client import MLClient
from lakeworks.errors import NotFoundError

ENDPOINT = "rentals-endpoint"
DEPLOYMENT = "blue"
#: The request body, written into the workspace so users can send it again themselves.
REQUEST_FILE = "rentals-forecast-request.json"
#: The columns the lab's model reads, in the order the request sends them.
COLUMNS = ("season", "mnth", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp",
           "hum", "windspeed")


@dataclass
class EndpointResult:
    """What the endpoint step did, for the CLI to show."""

    endpoint: str
    deployment: str
    model: str  # name:version
    scoring_uri: str
    request_file: str
    deployed_now: bool
    days: list[str]
    predictions: list[float]
    call_ms: float


def _current_model(ml_client: MLClient) -> str | None:
    """The model ``name:version`` deployment ``blue`` serves now, or None."""
    try:
        deployment = ml_client.online_deployments.get(DEPLOYMENT, endpoint_name=ENDPOINT)
    except NotFoundError:
        return None
    return str(deployment.model) if deployment.model else None


def deploy(ml_client: MLClient, model: str) -> bool:
    """Make ``blue`` of ``rentals-endpoint`` serve ``model`` with all traffic; True if it
    changed anything."""
    try:
        ml_client.online_endpoints.get(ENDPOINT)
    except NotFoundError:
        ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(
            name=ENDPOINT, auth_mode="key",
            description="The Synapse lab's rental model, answering in real time")).result()
    if _current_model(ml_client) in (model, f"azureml:{model}"):
        return False
    ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
        name=DEPLOYMENT, endpoint_name=ENDPOINT, model=f"azureml:{model}", instance_count=1,
        data_collector=DataCollector(collections={
            "model_inputs": DeploymentCollection(enabled="true"),
            "model_outputs": DeploymentCollection(enabled="true"),
        }),
    )).result()
    endpoint = ml_client.online_endpoints.get(ENDPOINT)
    endpoint.traffic = {DEPLOYMENT: 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    return True


def forecast_request(ml_client: MLClient) -> tuple[list[str], dict[str, Any]]:
    """The forecast days and Azure's split-form request body holding their features."""
    rows = ml_client.sql(
        f"SELECT CAST(day AS VARCHAR) AS day, {', '.join(COLUMNS)} FROM weather_forecast "
        "ORDER BY day").to_pylist()
    days = [str(r["day"]) for r in rows]
    body = {"input_data": {"columns": list(COLUMNS), "index": list(range(len(rows))),
                           "data": [[r[c] for c in COLUMNS] for r in rows]}}
    return days, body


def run_endpoint_step(ml_client: MLClient, model: str) -> EndpointResult:
    """Deploy ``model`` (``name:version``) and call the endpoint with the forecast."""
    deployed_now = deploy(ml_client, model)
    days, body = forecast_request(ml_client)
    request_file = ml_client.workspace_path / REQUEST_FILE
    request_file.write_text(json.dumps(body, indent=1) + "\n")
    started = time.perf_counter()
    answer = ml_client.online_endpoints.invoke(endpoint_name=ENDPOINT,
                                               request_file=str(request_file))
    call_ms = (time.perf_counter() - started) * 1000
    predictions = [float(v) for v in json.loads(answer)]
    endpoint = ml_client.online_endpoints.get(ENDPOINT)
    return EndpointResult(endpoint=ENDPOINT, deployment=DEPLOYMENT, model=model,
                          scoring_uri=str(endpoint.scoring_uri),
                          request_file=str(request_file), deployed_now=deployed_now,
                          days=days, predictions=predictions, call_ms=call_ms)


def run_online_endpoint(workspace: Path, model: str) -> EndpointResult:
    """``run_endpoint_step`` with a client of ``workspace``, closed afterwards."""
    ml_client = MLClient(workspace=workspace.expanduser().resolve())
    try:
        return run_endpoint_step(ml_client, model)
    finally:
        ml_client.close()
