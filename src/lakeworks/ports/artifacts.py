"""Artifact store port: immutable files and folders under one root (local folder or fsspec URL).

Keys are store-relative POSIX paths (``LocalUpload/<hash>/data.csv``); adapters reject keys that
would escape the root. Implementations must pass ``tests/contract/test_artifacts_contract.py``
(local folder and an S3 server). A key becomes visible only when its write completed: files are
written atomically, and a folder is committed in one step from a staging folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ArtifactStore(Protocol):
    """A place for immutable artifacts."""

    #: the root, e.g. ``file:///home/me/ws/artifacts`` or ``s3://bucket/prefix``
    url: str

    def put_file(self, local: Path, key: str) -> None:
        """Copy one local file to ``key`` atomically (readers never see a partial file)."""
        ...

    def put_bytes(self, data: bytes, key: str) -> None:
        """Write bytes to ``key`` atomically."""
        ...

    def put_dir(self, local: Path, key: str) -> None:
        """Copy a local folder's files under ``key``; the folder appears in one step."""
        ...

    def staging_dir(self) -> Path:
        """A fresh local folder to write into, later passed to ``commit_dir``.

        For a local store it lies on the same file system as the root, so committing is a
        rename and costs no copy.
        """
        ...

    def commit_dir(self, staging: Path, key: str) -> None:
        """Move a staging folder's contents to ``key`` (rename locally, upload remotely).

        Raises ``ConflictError`` if ``key`` already exists.
        """
        ...

    def get_bytes(self, key: str) -> bytes:
        """Read one file; ``NotFoundError`` if absent."""
        ...

    def download(self, key: str, dest: Path) -> Path:
        """Copy a file or folder to ``dest`` and return ``dest``; ``NotFoundError`` if absent."""
        ...

    def exists(self, key: str) -> bool:
        ...

    def is_dir(self, key: str) -> bool:
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys of every file under ``prefix`` (recursive), relative to the root, sorted."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file-system path of ``key`` when the store is local, else None."""
        ...

    def delete(self, key: str) -> None:
        """Remove a file or folder (used to clean up, never to change a version)."""
        ...
