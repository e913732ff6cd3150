"""Object-store artifact store: immutable files and folders under an fsspec URL (``s3://...``).

Owns talking to object stores through fsspec: one put per file (an object appears whole or not
at all), uploading a committed staging folder, dropping fsspec's listing cache so that reads see
other processes' writes, and turning foreign errors (``FileNotFoundError``, botocore) into
Lakeworks errors at this edge. It must not import s3fs or botocore itself: fsspec loads them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import fsspec

from lakeworks.core.names import safe_relative_path
from lakeworks.errors import (
    BackendError,
    ConflictError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
)

log = logging.getLogger(__name__)

#: environment variables read, in order, when an s3:// store is opened without an endpoint
S3_ENDPOINT_ENV_VARS = ("LAKEWORKS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
S3_PROTOCOLS = frozenset({"s3", "s3a"})
#: Azure Blob / ADLS Gen2 protocols, served by adlfs (the ``lakeworks[azure]`` extra)
AZURE_PROTOCOLS = frozenset({"abfs", "abfss", "az"})

_Action = Literal["read", "write", "list", "delete"]


def s3_storage_options(endpoint_url: str | None = None) -> dict[str, object]:
    """fsspec options for s3fs: the endpoint given, else the one from the environment.

    Example:
        >>> s3_storage_options("http://127.0.0.1:9000")
        {'client_kwargs': {'endpoint_url': 'http://127.0.0.1:9000'}}
    """
    if endpoint_url is None:
        endpoint_url = next(
            (os.environ[v] for v in S3_ENDPOINT_ENV_VARS if os.environ.get(v)), None
        )
    if not endpoint_url:
        return {}
    return {"client_kwargs": {"endpoint_url": endpoint_url}}


class FsspecArtifactStore:
    """Artifacts under an fsspec URL such as ``s3://bucket/prefix``; ``local_path`` is None.

    On an object store a committed folder's files appear one by one while it uploads; callers
    publish the folder (register the version) only after ``commit_dir`` returns.

    Args:
        url: the root, ``<protocol>://<bucket-or-host>/<prefix>``.
        storage_options: keyword arguments for the fsspec file system (for s3fs:
            ``client_kwargs``, ``key``, ``secret``, ...).
        staging_root: where ``staging_dir`` makes its folders; the system temp folder if None.

    Raises:
        InvalidInputError: fsspec does not know the URL's protocol.
        MissingDependencyError: the protocol's package (s3fs for s3://) is not installed.

    Example:
        >>> store = FsspecArtifactStore("memory://lakeworks-doc")
        >>> store.put_bytes(b"hi", "a/b.txt")
        >>> store.list("a")
        ['a/b.txt']
    """

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, object] | None = None,
        *,
        staging_root: Path | None = None,
    ) -> None:
        protocol, rest = fsspec.core.split_protocol(url)
        if not protocol or not rest or not rest.strip("/"):
            raise InvalidInputError(
                f"artifact store URL {url!r} is not valid: expected '<protocol>://<bucket>/<prefix>'"
            )
        fs_class = _filesystem_class(protocol, url)
        options = dict(storage_options or {})
        try:
            self._fs: Any = fs_class(**options)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"artifact store {url!r}: the storage options {sorted(options)} were refused: {exc}"
            ) from exc
        self._root: str = fs_class._strip_protocol(url).rstrip("/")
        self.url = f"{protocol}://{rest.rstrip('/')}"
        self._staging_root = staging_root

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self.url!r})"

    # -- writing -----------------------------------------------------------------------------

    def put_file(self, local: Path, key: str) -> None:
        """Upload one local file to ``key`` with a single put (atomic per object).

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: ``local`` is not a file, or the bucket does not exist.
            BackendError: the store failed (permissions, connection).
        """
        path = self._path(key)
        local = Path(local)
        if not local.is_file():
            raise NotFoundError(f"cannot store '{local}' at key '{key}': it is not a local file")
        with self._translate("write", key):
            self._fs.put_file(str(local), path)

    def put_bytes(self, data: bytes, key: str) -> None:
        """Write bytes to ``key`` with a single put (atomic per object).

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: the bucket does not exist.
            BackendError: the store failed (permissions, connection).
        """
        path = self._path(key)
        with self._translate("write", key):
            self._fs.pipe_file(path, data)

    def put_dir(self, local: Path, key: str) -> None:
        """Upload a local folder's files under ``key``; the local folder is left alone.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: ``local`` is not a folder.
            ConflictError: ``key`` exists already.
        """
        path = self._path(key)
        local = Path(local)
        if not local.is_dir():
            raise NotFoundError(f"cannot store '{local}' at key '{key}': it is not a local folder")
        self._upload_tree(local, key, path)

    def staging_dir(self) -> Path:
        """A fresh local temporary folder; ``commit_dir`` uploads it and removes it."""
        if self._staging_root is not None:
            self._staging_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="lakeworks-staging-", dir=self._staging_root))

    def commit_dir(self, staging: Path, key: str) -> None:
        """Upload a staging folder's files under ``key``, then remove the local folder.

        Empty folders are not kept: object stores hold files only.

        Raises:
            InvalidInputError: ``key`` would leave the root, or ``staging`` is not a folder.
            ConflictError: ``key`` exists already (the staging folder is kept).
        """
        path = self._path(key)
        staging = Path(staging)
        if not staging.is_dir():
            raise InvalidInputError(
                f"cannot commit '{staging}' to key '{key}': the staging folder does not exist; "
                "get one from staging_dir()"
            )
        self._upload_tree(staging, key, path)
        shutil.rmtree(staging)

    # -- reading -----------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        """Read one file.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: no file at ``key`` (or it is a folder prefix).
        """
        path = self._path(key)
        self._fs.invalidate_cache()
        with self._translate("read", key):
            try:
                data: bytes = self._fs.cat_file(path)
            except (FileNotFoundError, IsADirectoryError) as exc:
                if self._fs.isdir(path):
                    raise NotFoundError(
                        f"artifact key '{key}' is a folder, not a file, in {self.url}; "
                        "use download() or list() for folders"
                    ) from exc
                raise
        return data

    def download(self, key: str, dest: Path) -> Path:
        """Copy the file or folder prefix at ``key`` to ``dest`` and return ``dest``.

        Raises:
            InvalidInputError: ``key`` would leave the root.
            NotFoundError: nothing at ``key``.
        """
        path = self._path(key)
        dest = Path(dest)
        self._fs.invalidate_cache()
        with self._translate("read", key):
            info = self._fs.info(path)
            if info.get("type") != "directory":
                dest.parent.mkdir(parents=True, exist_ok=True)
                self._fs.get_file(path, str(dest))
                return dest
            remote = self._fs.find(path)
            dest.mkdir(parents=True, exist_ok=True)
            # names come from the store: check them so none lands outside ``dest``
            local = [
                dest / safe_relative_path(r[len(path) + 1 :], what="stored key") for r in remote
            ]
            for target in local:
                target.parent.mkdir(parents=True, exist_ok=True)
            if remote:
                self._fs.get(remote, [str(p) for p in local])
        return dest

    def exists(self, key: str) -> bool:
        """Whether a file or folder prefix exists at ``key`` (as other processes left it)."""
        path = self._path(key)
        self._fs.invalidate_cache()
        with self._translate("read", key):
            return bool(self._fs.exists(path))

    def is_dir(self, key: str) -> bool:
        """Whether ``key`` is a folder prefix holding at least one file."""
        path = self._path(key)
        self._fs.invalidate_cache()
        with self._translate("read", key):
            return bool(self._fs.isdir(path))

    def list(self, prefix: str = "") -> list[str]:
        """Keys of every file under the folder ``prefix`` (recursive), relative to the root, sorted.

        A ``prefix`` naming a file gives that one key; a missing ``prefix`` gives ``[]``.
        """
        base = self._path(prefix) if prefix else self._root
        self._fs.invalidate_cache()
        with self._translate("list", prefix):
            found = self._fs.find(base)
        start = len(self._root) + 1
        return sorted(p[start:] for p in found if p.startswith(self._root + "/"))

    def local_path(self, key: str) -> Path | None:
        """Always None: the artifacts do not live on this machine's file system."""
        self._path(key)
        return None

    def delete(self, key: str) -> None:
        """Remove a file or every object under a folder prefix; a missing key is not an error."""
        path = self._path(key)
        self._fs.invalidate_cache()
        with self._translate("delete", key):
            if self._fs.exists(path):
                self._fs.rm(path, recursive=True)
        self._fs.invalidate_cache()

    # -- internals ---------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self._root}/{safe_relative_path(key, what='artifact key')}"

    def _upload_tree(self, local: Path, key: str, path: str) -> None:
        if self.exists(key):
            raise ConflictError(
                f"artifact key '{key}' already exists in {self.url}; artifacts are immutable, "
                "commit under a new key (a new version)"
            )
        files = sorted(p for p in local.rglob("*") if p.is_file())
        if not files:
            log.debug("nothing to upload from empty folder %s to %s/%s", local, self.url, key)
            return
        remote = [f"{path}/{p.relative_to(local).as_posix()}" for p in files]
        with self._translate("write", key):
            self._fs.put([str(p) for p in files], remote)
        self._fs.invalidate_cache()

    @contextmanager
    def _translate(self, action: _Action, key: str) -> Iterator[None]:
        """Turn fsspec/botocore errors into Lakeworks errors naming the key and the store."""
        try:
            yield
        except FileNotFoundError as exc:
            if action == "write":
                raise NotFoundError(
                    f"cannot write artifact key '{key}': the bucket or container of {self.url} "
                    f"does not exist ({exc}); create it first or fix the URL"
                ) from exc
            raise NotFoundError(f"artifact key '{key}' does not exist in {self.url}") from exc
        except PermissionError as exc:
            raise BackendError(
                f"cannot {action} artifact key '{key}' in {self.url}: permission denied ({exc}); "
                "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) "
                "and the bucket policy"
            ) from exc
        except _foreign_errors() as exc:
            raise BackendError(
                f"cannot {action} artifact key '{key}' in {self.url}: {type(exc).__name__}: {exc}; "
                "check the endpoint (LAKEWORKS_S3_ENDPOINT_URL or AWS_ENDPOINT_URL), the network "
                "and the credentials; run with LAKEWORKS_LOG_LEVEL=DEBUG for details"
            ) from exc


def _filesystem_class(protocol: str, url: str) -> Any:
    """The fsspec class for ``protocol``, with its missing package named if any."""
    try:
        return fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        if protocol in S3_PROTOCOLS:
            raise MissingDependencyError("s3fs", "s3", "An s3:// artifact store") from exc
        if protocol in AZURE_PROTOCOLS:
            raise MissingDependencyError(
                "adlfs", "azure", f"Azure storage ({protocol}://, {url})"
            ) from exc
        raise InvalidInputError(
            f"artifact store URL {url!r} needs a package that is not installed: {exc}"
        ) from exc
    except ValueError as exc:
        raise InvalidInputError(
            f"artifact store URL {url!r} has a protocol '{protocol}' that fsspec does not know; "
            "use a local folder, file://, s3:// or another fsspec protocol"
        ) from exc


def _foreign_errors() -> tuple[type[BaseException], ...]:
    """Errors of the storage libraries to wrap: botocore's only if botocore was ever loaded."""
    errors: list[type[BaseException]] = [OSError]
    boto = sys.modules.get("botocore.exceptions")
    if boto is not None:
        errors += [boto.BotoCoreError, boto.ClientError]
    return tuple(errors)
