"""Credentials, as ``azure.identity``: local no-ops so Azure code runs unchanged.

A Lakeworks workspace on this machine needs no credential; these classes exist so that
``credential = DefaultAzureCredential()`` and ``MLClient(credential, ...)`` work as written.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple


class AccessToken(NamedTuple):
    """A token shaped like ``azure.core.credentials.AccessToken``."""

    token: str
    expires_on: int


class DefaultAzureCredential:
    """A credential that needs nothing and grants access to local workspaces."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A placeholder token valid for an hour (nothing checks it locally)."""
        return AccessToken("lakeworks-local", int(time.time()) + 3600)

    def close(self) -> None:
        """Nothing to release."""


class AzureCliCredential(DefaultAzureCredential):
    """Same as ``DefaultAzureCredential`` here."""


class InteractiveBrowserCredential(DefaultAzureCredential):
    """Same as ``DefaultAzureCredential`` here."""


class ManagedIdentityCredential(DefaultAzureCredential):
    """Same as ``DefaultAzureCredential`` here."""


__all__ = [
    "AccessToken",
    "AzureCliCredential",
    "DefaultAzureCredential",
    "InteractiveBrowserCredential",
    "ManagedIdentityCredential",
]
