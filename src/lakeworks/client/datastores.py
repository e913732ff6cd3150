"""``ml_client.datastores``: named storage roots, as in Azure ML (``create_or_update``, ``get``, ``get_default``, ``list``, ``delete``).

Owns turning datastore entities into records for the datastore service and back, and Azure's
``include_secrets`` rule: secrets are returned only when asked for. Saving a datastore got
without its secrets keeps the secrets already stored.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable

from lakeworks.client.entities.datastores import Datastore
from lakeworks.core.lake import CredentialKind, DatastoreRecord
from lakeworks.errors import NotFoundError
from lakeworks.services.datastores import ConnectionCheck, DatastoreService
from lakeworks.services.workspace import Workspace as WorkspaceHandle


class DatastoreOperations:
    """Operation group of ``MLClient``: ``ml_client.datastores``.

    Example:
        >>> from lakeworks.entities import S3Datastore, S3Credentials, EnvVar  # doctest: +SKIP
        >>> ml_client.datastores.create_or_update(S3Datastore(  # doctest: +SKIP
        ...     name="raw", bucket="lake", credentials=S3Credentials(
        ...         access_key_id=EnvVar("AWS_ACCESS_KEY_ID"),
        ...         secret_access_key=EnvVar("AWS_SECRET_ACCESS_KEY"))))
    """

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    @property
    def _service(self) -> DatastoreService:
        return DatastoreService(self._ws())

    def _entity(self, record: DatastoreRecord, include_secrets: bool) -> Datastore:
        secrets = self._service.secrets(record) if include_secrets else None
        return Datastore._from_record(record, secrets)

    def create_or_update(self, datastore: Datastore) -> Datastore:
        """Create or replace a datastore; returns it as stored (without secrets).

        Credential values given as ``EnvVar``/``${{env:VAR}}`` are stored as references,
        other values encrypted with your Lakeworks secret key.

        Raises:
            InvalidInputError: a bad name, field or credential.
        """
        record, secrets = datastore._to_record()
        service = self._service
        if not secrets and datastore.credentials is not None:
            # got without its secrets (include_secrets=False): keep the stored ones
            try:
                existing = service.get(record.name)
            except NotFoundError:
                existing = None
            if existing is not None and existing.credentials.kind is not CredentialKind.NONE:
                record = record.model_copy(update={"credentials": existing.credentials})
        stored = service.create_or_update(record, credentials=secrets or None)
        return Datastore._from_record(stored)

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        """One datastore; its secrets only with ``include_secrets=True``.

        Raises:
            NotFoundError: no such datastore (the existing ones are named), or, with
                ``include_secrets``, a referenced environment variable is not set.
        """
        return self._entity(self._service.get(name), include_secrets)

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        """The workspace's default datastore ``workspaceblobstore`` (its artifact store)."""
        return self._entity(self._service.get_default(), include_secrets)

    def delete(self, name: str) -> None:
        """Forget a datastore (its data is untouched); the default cannot be deleted."""
        self._service.delete(name)

    def test_connection(self, name: str) -> ConnectionCheck:
        """List the datastore's root, as Synapse's "Test connection" (Lakeworks addition)."""
        return self._service.test(name)

    # Last in the class: a method named ``list`` would shadow the builtin in later annotations.

    def list(self, *, include_secrets: bool = False) -> builtins.list[Datastore]:
        """Every datastore, the default first."""
        return [self._entity(r, include_secrets) for r in self._service.list()]
