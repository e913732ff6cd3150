"""The online endpoint repo over every metadata backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakeworks.adapters.metadata import open_metadata_store
from lakeworks.core.endpoints import OnlineDeploymentSpec, OnlineEndpointSpec
from lakeworks.errors import ConflictError, NotFoundError
from lakeworks.ports.metadata import DeploymentRecord, EndpointRecord, MetadataStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metadata.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_metadata_store(url)
    yield opened
    opened.close()


def endpoint(name: str, **spec: object) -> EndpointRecord:
    return EndpointRecord(name=name, spec=OnlineEndpointSpec(name=name, **spec),  # type: ignore[arg-type]
                          sealed_keys={"primary": "p", "secondary": "s", "token_secret": "t"},
                          created_at=T0, updated_at=T0)


def deployment(endpoint_name: str, name: str, **fields: object) -> DeploymentRecord:
    spec = OnlineDeploymentSpec(name=name, endpoint_name=endpoint_name, model="azureml:m:1")
    return DeploymentRecord(endpoint=endpoint_name, name=name, spec=spec, kind="onnx",
                            python="/usr/bin/python3", created_at=T0, updated_at=T0,
                            **fields)  # type: ignore[arg-type]


def test_endpoints_round_trip_and_conflict(store: MetadataStore) -> None:
    repo = store.endpoints
    repo.put_endpoint(endpoint("scoring", description="first"))
    repo.put_endpoint(endpoint("another"))
    assert [e.name for e in repo.list_endpoints()] == ["another", "scoring"]
    got = repo.get_endpoint("scoring")
    assert got.spec.description == "first" and got.sealed_keys["primary"] == "p"
    assert got.created_at == T0
    with pytest.raises(ConflictError, match="already exists"):
        repo.put_endpoint(endpoint("scoring"))
    repo.put_endpoint(endpoint("scoring", description="second"), replace=True)
    assert repo.get_endpoint("scoring").spec.description == "second"
    with pytest.raises(NotFoundError, match="another, scoring"):
        repo.get_endpoint("missing")


def test_deployments_belong_to_an_endpoint_and_go_with_it(store: MetadataStore) -> None:
    repo = store.endpoints
    with pytest.raises(NotFoundError, match="online endpoint 'scoring' does not exist"):
        repo.put_deployment(deployment("scoring", "blue"))
    repo.put_endpoint(endpoint("scoring"))
    repo.put_deployment(deployment("scoring", "blue", model_name="m", model_version="1"))
    repo.put_deployment(deployment("scoring", "green", state="Failed", error="boom"))
    assert [d.name for d in repo.list_deployments("scoring")] == ["blue", "green"]
    assert repo.get_deployment("scoring", "green").error == "boom"
    assert repo.get_deployment("scoring", "blue").spec.model == "azureml:m:1"
    with pytest.raises(ConflictError):
        repo.put_deployment(deployment("scoring", "blue"))
    with pytest.raises(NotFoundError, match="deployments: blue, green"):
        repo.get_deployment("scoring", "red")
    repo.delete_deployment("scoring", "green")
    assert [d.name for d in repo.list_deployments()] == ["blue"]
    with pytest.raises(NotFoundError):
        repo.delete_deployment("scoring", "green")
    repo.delete_endpoint("scoring")
    assert repo.list_deployments() == [] and repo.list_endpoints() == []
    with pytest.raises(NotFoundError):
        repo.delete_endpoint("scoring")
