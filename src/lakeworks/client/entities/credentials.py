"""Credential configurations of datastores, with Azure ML's names, and ``EnvVar`` references.

Owns ``AccountKeyConfiguration``, ``SasTokenConfiguration``, ``ServicePrincipalConfiguration``
(Azure) and ``S3Credentials`` (Lakeworks): which fields are secret and which are plain settings,
and a ``repr`` that never shows a secret. A value given as ``EnvVar("VAR")`` or
``"${{env:VAR}}"`` is stored as a reference; any other secret value is encrypted when saved.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lakeworks.core.datastores import env_reference, format_env_reference


class EnvVar:
    """A credential value read from an environment variable each time the datastore is used.

    Example:
        >>> str(EnvVar("AZURE_STORAGE_KEY"))
        '${{env:AZURE_STORAGE_KEY}}'
    """

    def __init__(self, name: str) -> None:
        format_env_reference(name)  # checks the name
        self.name = name

    def __str__(self) -> str:
        return format_env_reference(self.name)

    def __repr__(self) -> str:
        return f"EnvVar({self.name!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EnvVar):
            return other.name == self.name
        return isinstance(other, str) and env_reference(other) == self.name

    def __hash__(self) -> int:
        return hash(("EnvVar", self.name))


Secret = str | EnvVar | None


class _CredentialConfiguration:
    """Credential fields: secrets (encrypted or referenced) and plain settings."""

    type: ClassVar[str] = ""
    _secret_fields: ClassVar[tuple[str, ...]] = ()
    _plain_fields: ClassVar[tuple[str, ...]] = ()

    def _secrets(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in self._secret_fields:
            value = getattr(self, name)
            if value is not None:
                values[name] = str(value)
        return values

    def _plain(self) -> dict[str, str]:
        return {n: getattr(self, n) for n in self._plain_fields if getattr(self, n) is not None}

    def __repr__(self) -> str:
        shown = []
        for name in self._secret_fields:
            value = getattr(self, name)
            visible = value is None or isinstance(value, EnvVar) or env_reference(str(value))
            shown.append(f"{name}={value!r}" if visible else f"{name}='***'")
        shown += [f"{n}={getattr(self, n)!r}" for n in self._plain_fields if getattr(self, n)]
        return f"{type(self).__name__}({', '.join(shown)})"


class AccountKeyConfiguration(_CredentialConfiguration):
    """An Azure storage account key."""

    type = "account_key"
    _secret_fields = ("account_key",)

    def __init__(self, *, account_key: Secret = None) -> None:
        self.account_key = account_key


class SasTokenConfiguration(_CredentialConfiguration):
    """An Azure shared access signature token."""

    type = "sas"
    _secret_fields = ("sas_token",)

    def __init__(self, *, sas_token: Secret = None) -> None:
        self.sas_token = sas_token


class ServicePrincipalConfiguration(_CredentialConfiguration):
    """An Entra ID service principal (only ``client_secret`` is secret)."""

    type = "service_principal"
    _secret_fields = ("client_secret",)
    _plain_fields = ("tenant_id", "client_id", "authority_url", "resource_url")

    def __init__(
        self,
        *,
        client_secret: Secret = None,
        tenant_id: str | None = None,
        client_id: str | None = None,
        authority_url: str | None = None,
        resource_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.authority_url = authority_url
        self.resource_url = resource_url


class S3Credentials(_CredentialConfiguration):
    """An S3 access key pair (Lakeworks)."""

    type = "s3"
    _secret_fields = ("access_key_id", "secret_access_key")

    def __init__(
        self, *, access_key_id: Secret = None, secret_access_key: Secret = None
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key


Credential = (
    AccountKeyConfiguration | SasTokenConfiguration | ServicePrincipalConfiguration | S3Credentials
)
_AZURE_CREDENTIALS = (AccountKeyConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration)


__all__ = [
    "AccountKeyConfiguration",
    "Credential",
    "EnvVar",
    "S3Credentials",
    "SasTokenConfiguration",
    "Secret",
    "ServicePrincipalConfiguration",
]
