"""Content hashing of local files and folders, the basis of uploads, snapshots and reuse.

A file's hash is the SHA-256 of its bytes. A folder's hash covers each file's relative POSIX
path and bytes, in sorted order, so renaming, adding or changing any file changes it; empty
folders and modification times do not count. ``.git``, ``__pycache__`` and similar are skipped
when hashing code snapshots.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from lakeworks.errors import NotFoundError

_CHUNK = 1 << 20

#: folders never part of a code snapshot
SNAPSHOT_EXCLUDES = frozenset(
    {".git", "__pycache__", ".ipynb_checkpoints", ".venv", ".mypy_cache", ".pytest_cache"}
)


def hash_file(path: Path) -> str:
    """SHA-256 hex digest of one file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def iter_files(root: Path, *, excludes: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Every regular file under ``root``, sorted by relative POSIX path, skipping ``excludes``."""
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in excludes)
        for fname in filenames:
            if fname in excludes or fname.endswith(".pyc"):
                continue
            full = Path(dirpath) / fname
            if full.is_file():
                found.append((full.relative_to(root).as_posix(), full))
    for _, full in sorted(found):
        yield full


def hash_path(path: Path, *, excludes: frozenset[str] = frozenset()) -> str:
    """Content hash of a file or a folder (see the module docstring).

    Raises:
        NotFoundError: ``path`` does not exist.
    """
    if path.is_file():
        return hash_file(path)
    if not path.is_dir():
        raise NotFoundError(f"local path '{path}' does not exist")
    h = hashlib.sha256(b"lakeworks-folder-v1\n")
    for full in iter_files(path, excludes=excludes):
        rel = full.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0" + hash_file(full).encode() + b"\n")
    return h.hexdigest()


def hash_text(*parts: str) -> str:
    """SHA-256 over text parts joined unambiguously."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()
