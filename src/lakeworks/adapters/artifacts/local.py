"""Local artifact store: immutable files and folders under one root folder on this machine.

Owns atomic writes on a local file system (temp file in the same folder, fsync, ``os.replace``)
and one-step folder commits (build under ``<root>/.staging/<uuid>``, then rename into place). It
must never touch a path outside its root: keys are checked with ``safe_relative_path`` and the
resolved path (symlinks followed) must stay under the resolved root.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lakeworks.core.names import safe_relative_path
from lakeworks.errors import BackendError, ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

#: folder under the root where folders are built before they are renamed into place
STAGING_DIRNAME = ".staging"
#: prefix of the temporary files written next to their destination; never listed
TMP_PREFIX = ".lakeworks-tmp-"
_CHUNK = 1024 * 1024


class LocalArtifactStore:
    """Artifacts in a local folder; ``url`` is ``file:///...``.

    Args:
        root: the folder holding the artifacts; created if missing.

    Example:
        >>> import tempfile
        >>> store = LocalArtifactStore(Path(tempfile.mkdtemp()))
        >>> store.put_bytes(b"hello", "notes/a.txt")
        >>> store.get_bytes("notes/a.txt")
        b'hello'
    """

    def __init__(self, root: Path) -> None:
        root = Path(root).expanduser()
        if root.exists() and not root.is_dir():
            raise InvalidInputError(
                f"artifact store root '{root}' is a file; give a folder (it is created if missing)"
            )
        with self._translate("create the store root", str(root)):
            root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.url = self.root.as_uri()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # -- writing -----------------------------------------------------------------------------

    def put_file(self, local: Path, key: str) -> None:
        """Copy one local file to ``key`` atomically (readers never see a partial file).

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: ``local`` is not a file.
            ConflictError: ``key`` is a folder, or one of its parents is a file.
        """
        dest = self._path(key)
        local = Path(local)
        if not local.is_file():
            raise NotFoundError(f"cannot store '{local}' at key '{key}': it is not a local file")
        with self._translate("write", key), local.open("rb") as src:
            _atomic_write(dest, src)

    def put_bytes(self, data: bytes, key: str) -> None:
        """Write bytes to ``key`` atomically.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            ConflictError: ``key`` is a folder, or one of its parents is a file.
        """
        dest = self._path(key)
        with self._translate("write", key):
            _atomic_write(dest, data)

    def put_dir(self, local: Path, key: str) -> None:
        """Copy a local folder's files under ``key``; the folder appears in one step.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: ``local`` is not a folder.
            ConflictError: ``key`` exists already.
        """
        self._path(key)
        local = Path(local)
        if not local.is_dir():
            raise NotFoundError(f"cannot store '{local}' at key '{key}': it is not a local folder")
        staging = self.staging_dir()
        try:
            with self._translate("copy a folder to", key):
                shutil.copytree(local, staging, dirs_exist_ok=True, copy_function=_copy_synced)
            self.commit_dir(staging, key)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def staging_dir(self) -> Path:
        """A fresh folder under ``<root>/.staging``, on the same file system as the root."""
        staging = self.root / STAGING_DIRNAME / uuid.uuid4().hex
        with self._translate("create a staging folder in", STAGING_DIRNAME):
            staging.mkdir(parents=True)
        return staging

    def commit_dir(self, staging: Path, key: str) -> None:
        """Move a staging folder to ``key`` with one rename; ``staging`` is gone afterwards.

        A folder from another file system is first copied into this store's staging area.

        Raises:
            InvalidInputError: ``key`` would leave the root, or ``staging`` is not a folder.
            ConflictError: ``key`` exists already.
        """
        dest = self._path(key)
        staging = Path(staging)
        if not staging.is_dir():
            raise InvalidInputError(
                f"cannot commit '{staging}' to key '{key}': the staging folder does not exist; "
                "get one from staging_dir()"
            )
        if dest.exists() or dest.is_symlink():
            raise ConflictError(
                f"artifact key '{key}' already exists in {self.url}; artifacts are immutable, "
                "commit under a new key (a new version)"
            )
        with self._translate("commit a folder to", key):
            dest.parent.mkdir(parents=True, exist_ok=True)
            if staging.stat().st_dev == self.root.stat().st_dev:
                _fsync_tree(staging)
                self._rename_into_place(staging, dest, key)
                return
            # another file system: copy into our staging area first, so the rename stays atomic
            source = self.staging_dir()
            try:
                shutil.copytree(staging, source, dirs_exist_ok=True, copy_function=_copy_synced)
                self._rename_into_place(source, dest, key)
            finally:
                if source.exists():
                    shutil.rmtree(source, ignore_errors=True)
            shutil.rmtree(staging)

    # -- reading -----------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        """Read one file.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: no file at ``key`` (or it is a folder).
        """
        path = self._path(key)
        if not path.is_file():
            raise self._not_found(key, path)
        with self._translate("read", key):
            return path.read_bytes()

    def download(self, key: str, dest: Path) -> Path:
        """Copy the file or folder at ``key`` to ``dest`` and return ``dest``.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: nothing at ``key``.
        """
        path = self._path(key)
        dest = Path(dest)
        with self._translate("download", key):
            if path.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
            elif path.is_dir():
                shutil.copytree(path, dest, dirs_exist_ok=True)
            else:
                raise self._not_found(key, path)
        return dest

    def exists(self, key: str) -> bool:
        """Whether a file or folder exists at ``key``."""
        return self._path(key).exists()

    def is_dir(self, key: str) -> bool:
        """Whether ``key`` is a folder."""
        return self._path(key).is_dir()

    def list(self, prefix: str = "") -> list[str]:
        """Keys of every file under the folder ``prefix`` (recursive), relative to the root, sorted.

        A ``prefix`` naming a file gives that one key; a missing ``prefix`` gives ``[]``.
        """
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            return [self._key_of(base)]
        keys: list[str] = []
        for folder, dirnames, filenames in os.walk(base):
            here = Path(folder)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d != STAGING_DIRNAME]
            keys.extend(self._key_of(here / f) for f in filenames if not f.startswith(TMP_PREFIX))
        return sorted(keys)

    def local_path(self, key: str) -> Path:
        """The file-system path of ``key`` (whether or not it exists yet)."""
        return self._path(key)

    def delete(self, key: str) -> None:
        """Remove a file or folder; a missing key is not an error (clean-up is idempotent).

        A folder is first renamed into the staging area, so it disappears in one step.
        """
        path = self._path(key)
        with self._translate("delete", key):
            if path.is_dir() and not path.is_symlink():
                trash = self.root / STAGING_DIRNAME / f"deleted-{uuid.uuid4().hex}"
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.rename(path, trash)
                shutil.rmtree(trash)
            elif path.exists() or path.is_symlink():
                path.unlink()

    # -- internals ---------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        rel = safe_relative_path(key, what="artifact key")
        if rel.split("/", 1)[0] == STAGING_DIRNAME:
            raise InvalidInputError(
                f"artifact key {key!r} is reserved: '{STAGING_DIRNAME}/' holds uncommitted folders"
            )
        path = self.root / rel
        if not path.resolve().is_relative_to(self.root):
            raise InvalidInputError(
                f"artifact key {key!r} leads outside {self.url} through a symbolic link; "
                "remove the link or use another key"
            )
        return path

    def _rename_into_place(self, source: Path, dest: Path, key: str) -> None:
        try:
            os.rename(source, dest)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise ConflictError(
                    f"artifact key '{key}' was created by someone else while committing to "
                    f"{self.url}; commit under a new key"
                ) from exc
            raise
        _fsync_dir(dest.parent)

    def _key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _not_found(self, key: str, path: Path) -> NotFoundError:
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        return NotFoundError(f"artifact key '{key}' {what} in {self.url}")

    @contextmanager
    def _translate(self, action: str, key: str) -> Iterator[None]:
        """Turn OS errors into Lakeworks errors that name the key and the store."""
        try:
            yield
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise ConflictError(
                f"cannot {action} artifact key '{key}' in {getattr(self, 'url', key)}: a file or "
                f"folder in the way already exists ({exc.strerror}: {exc.filename})"
            ) from exc
        except PermissionError as exc:
            raise BackendError(
                f"cannot {action} artifact key '{key}' in {getattr(self, 'url', key)}: permission "
                f"denied on '{exc.filename}'; check the folder's owner and mode"
            ) from exc
        except OSError as exc:
            raise BackendError(
                f"cannot {action} artifact key '{key}' in {getattr(self, 'url', key)}: {exc}; "
                "check free disk space and that the folder is writable"
            ) from exc


def _atomic_write(dest: Path, content: bytes | BinaryIO) -> None:
    """Write ``content`` to a temp file next to ``dest``, fsync it, then rename it over ``dest``."""
    if dest.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(content, bytes):
                out.write(content)
            else:
                shutil.copyfileobj(content, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)


def _copy_synced(src: str, dst: str) -> str:
    """``shutil.copytree`` copy function that fsyncs each copied file."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, _CHUNK)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copymode(src, dst)
    return dst


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk before it is renamed into place."""
    for here, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(here, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(here))


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
