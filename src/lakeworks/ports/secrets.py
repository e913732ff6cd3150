"""Secrets port: encrypting credential values with the user's key, so metadata holds no plain text.

Implementations must pass the secret-box tests in ``tests/integration/test_datastores.py``.
"""

from __future__ import annotations

from typing import Protocol


class SecretBox(Protocol):
    """Symmetric encryption of short secrets (account keys, tokens) with one user key."""

    #: where the key came from, for messages (a file path or an environment variable)
    source: str

    def encrypt(self, plain: str) -> str:
        """An opaque, printable token holding ``plain``; encrypting twice gives other tokens."""
        ...

    def decrypt(self, token: str) -> str:
        """The value inside ``token``.

        Raises ``InvalidInputError`` naming the key's source when the token was made with
        another key or was altered.
        """
        ...
