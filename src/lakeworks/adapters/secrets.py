"""Secret adapter: Fernet encryption (``cryptography``) with a per-user key.

Owns where the key lives and how it is made: ``LAKEWORKS_SECRET_KEY`` (a Fernet key) when set,
else the file ``secret.key`` in the user config folder (``$XDG_CONFIG_HOME/lakeworks/`` or
``~/.config/lakeworks/``), generated on first use with permissions 0600 and never
overwritten, so that two processes racing to create it end up with the same key. It must not
log or put a secret or the key in any message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lakeworks.errors import BackendError, InvalidInputError

log = logging.getLogger(__name__)

KEY_ENV = "LAKEWORKS_SECRET_KEY"
KEY_FILE = "secret.key"


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/lakeworks/secret.key``, or ``~/.config/lakeworks/secret.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lakeworks" / KEY_FILE


class FernetSecretBox:
    """Encrypts and decrypts secrets with one Fernet key.

    Args:
        key: the Fernet key (44 URL-safe base64 characters).
        source: where the key came from, named in errors.

    Example:
        >>> box = FernetSecretBox(Fernet.generate_key(), source="a test key")
        >>> box.decrypt(box.encrypt("s3cr3t"))
        's3cr3t'
    """

    def __init__(self, key: bytes, *, source: str) -> None:
        self.source = source
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                f"the Lakeworks secret key from {source} is not a valid key: expected 44 URL-safe "
                "base64 characters, as printed by python -c \"from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())\""
            ) from exc

    def __repr__(self) -> str:
        return f"FernetSecretBox(source={self.source!r})"

    def encrypt(self, plain: str) -> str:
        """A token holding ``plain`` (different on every call)."""
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The value in ``token``.

        Raises:
            InvalidInputError: the token was made with another key, or altered.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError) as exc:
            raise InvalidInputError(
                f"an encrypted credential cannot be decrypted with the secret key from "
                f"{self.source}: it was saved with another key (another user, or the key was "
                "replaced); save the datastore again with its credentials"
            ) from exc


def open_secret_box(key_path: Path | None = None) -> FernetSecretBox:
    """The user's secret box: the key from ``LAKEWORKS_SECRET_KEY``, else from ``key_path``
    (default ``default_key_path()``), created there with permissions 0600 if missing.

    Raises:
        InvalidInputError: the key is malformed.
        BackendError: the key file cannot be read or created.
    """
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return FernetSecretBox(from_env.strip().encode("ascii", "replace"),
                               source=f"environment variable {KEY_ENV}")
    path = key_path or default_key_path()
    try:
        key = _read_or_create(path)
    except OSError as exc:
        raise BackendError(
            f"cannot read or create the Lakeworks secret key '{path}': {exc}; fix the folder's "
            f"permissions or set {KEY_ENV}"
        ) from exc
    return FernetSecretBox(key, source=f"key file '{path}'")


def _read_or_create(path: Path) -> bytes:
    if path.is_file():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("secret key %s is readable by other users (mode %o); run chmod 600 %s",
                        path, mode, path)
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=path.parent)  # created with mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if another process made the key first: keep theirs
        except FileExistsError:
            pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path.read_bytes().strip()


__all__ = ["KEY_ENV", "FernetSecretBox", "default_key_path", "open_secret_box"]
