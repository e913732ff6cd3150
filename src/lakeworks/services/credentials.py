"""Datastore credentials: sealed when a datastore is saved, opened only when it is used.

Owns the rule that no credential sits in the metadata in plain text: values written
``${{env:VAR}}`` are kept as references to environment variables (read at use, and a missing
variable is named), any other values are encrypted with the user's key through the ``secrets``
adapter. A datastore takes references or values, never a mix. Nothing here logs a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lakeworks.core.datastores import check_credential_fields, env_reference
from lakeworks.core.lake import CredentialKind, Credentials, DatastoreRecord, DatastoreType
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.secrets import SecretBox
from lakeworks.services import adapter_registry


def _box() -> SecretBox:
    box: SecretBox = adapter_registry.load("secrets")()
    return box


def seal(name: str, kind: DatastoreType, values: Mapping[str, str]) -> Credentials:
    """The credentials to store for datastore ``name`` given its values by field.

    Raises:
        InvalidInputError: a field that does not apply to ``kind``, an empty value, or
            references mixed with values.

    Example:
        >>> seal("raw", DatastoreType.S3, {"access_key_id": "${{env:K}}",
        ...                                "secret_access_key": "${{env:S}}"}).values
        {'access_key_id': 'K', 'secret_access_key': 'S'}
    """
    check_credential_fields(kind, values, name=name)
    refs = {k: env_reference(v) for k, v in values.items()}
    if all(r is not None for r in refs.values()):
        return Credentials(kind=CredentialKind.ENV, values={k: str(r) for k, r in refs.items()})
    if any(r is not None for r in refs.values()):
        raise InvalidInputError(
            f"datastore '{name}': give every credential as an environment reference "
            "(${{env:VAR}}) or every one as a value (kept encrypted), not a mix; "
            f"references: {sorted(k for k, r in refs.items() if r)}, values: "
            f"{sorted(k for k, r in refs.items() if not r)}"
        )
    for field_name, value in values.items():
        if not isinstance(value, str) or not value:
            raise InvalidInputError(
                f"datastore '{name}': credential '{field_name}' is empty",
                field=f"credentials.{field_name}",
            )
    box = _box()
    return Credentials(
        kind=CredentialKind.ENCRYPTED,
        values={k: box.encrypt(v) for k, v in values.items()},
    )


def open_secrets(record: DatastoreRecord) -> dict[str, str]:
    """The credential values of ``record`` in plain text, by field: environment references
    read now, encrypted values decrypted with the user's key.

    Raises:
        NotFoundError: a referenced environment variable is not set (it is named).
        InvalidInputError: an encrypted value cannot be decrypted with this user's key.
    """
    creds = record.credentials
    if creds.kind is CredentialKind.NONE or not creds.values:
        return {}
    if creds.kind is CredentialKind.ENV:
        values: dict[str, str] = {}
        for field_name, var in creds.values.items():
            value = os.environ.get(var)
            if not value:
                raise NotFoundError(
                    f"datastore '{record.name}' takes its credential '{field_name}' from the "
                    f"environment variable '{var}', which is not set; set it (export "
                    f"{var}=...) or save the datastore again with other credentials"
                )
            values[field_name] = value
        return values
    box = _box()
    decrypted: dict[str, str] = {}
    for field_name, token in creds.values.items():
        try:
            decrypted[field_name] = box.decrypt(token)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"datastore '{record.name}', credential '{field_name}': {exc.detail}"
            ) from exc
    return decrypted


__all__ = ["open_secrets", "seal"]
