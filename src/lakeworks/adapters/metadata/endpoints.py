"""Online endpoints and deployments in SQL: ``SqlAlchemyEndpointRepo``.

Owns storing endpoint and deployment records whole (JSON ``details`` plus key columns), their
not-found and conflict errors, the rule that a deployment belongs to an existing endpoint, and
deleting an endpoint's deployments with it in one transaction. Keys arrive sealed; resolving
models, code and environments is the services' business.
"""

from __future__ import annotations

import builtins

import sqlalchemy as sa

from lakeworks.adapters.metadata.catalog import _names, _Records
from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.tables import lw_online_deployment, lw_online_endpoint
from lakeworks.errors import ConflictError, NotFoundError
from lakeworks.ports.metadata import DeploymentRecord, EndpointRecord


class SqlAlchemyEndpointRepo:
    """The ``EndpointRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._endpoints = _Records(db, lw_online_endpoint, EndpointRecord, "online endpoint")
        self._deployments = _Records(db, lw_online_deployment, DeploymentRecord,
                                     "online deployment")

    # -- endpoints -------------------------------------------------------------------------

    def put_endpoint(self, record: EndpointRecord, *, replace: bool = False) -> None:
        self._endpoints.insert_or_replace(
            record,
            {"name": record.name},
            {"created_at": record.created_at, "updated_at": record.updated_at},
            replace=replace,
            conflict=lambda: ConflictError(
                f"online endpoint '{record.name}' already exists; update it or pick another name"
            ),
        )

    def get_endpoint(self, name: str) -> EndpointRecord:
        found = self._endpoints.get(EndpointRecord, name=name)
        if found is None:
            known = [e.name for e in self.list_endpoints()]
            raise NotFoundError(
                f"online endpoint '{name}' does not exist (endpoints: {_names(known)}); create "
                "it with `lakeworks online-endpoint create -f endpoint.yml`"
            )
        return found

    def list_endpoints(self) -> builtins.list[EndpointRecord]:
        return self._endpoints.all(EndpointRecord, ["name"])

    def delete_endpoint(self, name: str) -> None:
        self.get_endpoint(name)
        with self._db.write(f"delete online endpoint {name}") as conn:
            conn.execute(sa.delete(lw_online_deployment)
                         .where(lw_online_deployment.c.endpoint == name))
            conn.execute(sa.delete(lw_online_endpoint).where(lw_online_endpoint.c.name == name))

    # -- deployments -----------------------------------------------------------------------

    def put_deployment(self, record: DeploymentRecord, *, replace: bool = False) -> None:
        self.get_endpoint(record.endpoint)
        self._deployments.insert_or_replace(
            record,
            {"endpoint": record.endpoint, "name": record.name},
            {"created_at": record.created_at, "updated_at": record.updated_at},
            replace=replace,
            conflict=lambda: ConflictError(
                f"deployment '{record.name}' of endpoint '{record.endpoint}' already exists; "
                "update it or pick another name"
            ),
        )

    def get_deployment(self, endpoint: str, name: str) -> DeploymentRecord:
        found = self._deployments.get(DeploymentRecord, endpoint=endpoint, name=name)
        if found is None:
            self.get_endpoint(endpoint)
            known = [d.name for d in self.list_deployments(endpoint)]
            raise NotFoundError(
                f"deployment '{name}' does not exist in endpoint '{endpoint}' (deployments: "
                f"{_names(known)})"
            )
        return found

    def list_deployments(self, endpoint: str | None = None) -> builtins.list[DeploymentRecord]:
        key = {"endpoint": endpoint} if endpoint is not None else {}
        return self._deployments.all(DeploymentRecord, ["endpoint", "name"], **key)

    def delete_deployment(self, endpoint: str, name: str) -> None:
        if not self._deployments.delete(endpoint=endpoint, name=name):
            self.get_deployment(endpoint, name)  # raises the helpful NotFoundError


__all__ = ["SqlAlchemyEndpointRepo"]
