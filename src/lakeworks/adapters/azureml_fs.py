"""The ``azureml://`` fsspec protocol: datastore paths readable by pandas, pyarrow and DuckDB.

Owns ``AzureMLFileSystem``, registered as fsspec's ``azureml`` protocol by the ``fsspec.specs``
entry point, so that ``pd.read_csv("azureml://datastores/<name>/paths/<p>")`` works as in Azure
ML. It parses datastore paths (short and long form), asks a *locator* for the file system and
root of the named datastore, and delegates every operation to it, mapping paths both ways.

The locator (which workspace, which datastore, which credentials) is use-case logic this
adapter must not import: it is given to the constructor, or found through the entry point group
``lakeworks.datastore_locators`` (Lakeworks registers the datastore service's
``open_datastore_filesystem`` there). It must never log storage options: they hold secrets.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from typing import Any

from fsspec import AbstractFileSystem

from lakeworks.core.names import safe_relative_path
from lakeworks.errors import BackendError, InvalidInputError

#: (datastore name, workspace hint or None) -> (file system, root path of the datastore on it)
Locator = Callable[[str, str | None], tuple[AbstractFileSystem, str]]

LOCATOR_GROUP = "lakeworks.datastore_locators"
_LONG = re.compile(
    r"^subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/(?=datastores/)", re.IGNORECASE
)
_PATH = re.compile(r"^datastores/(?P<ds>[^/]+)(?:/paths(?:/(?P<path>.*))?)?$")


def _entry_point_locator() -> Locator:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group=LOCATOR_GROUP)}
    if not found:
        raise BackendError(
            f"reading azureml:// paths needs a datastore locator in the entry point group "
            f"'{LOCATOR_GROUP}', and none is registered; reinstall Lakeworks (pip install -e . "
            "in a checkout) so that its entry points are registered"
        )
    ep = found.get("lakeworks") or next(iter(found.values()))
    locator: Locator = ep.load()
    return locator


class AzureMLFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec has no types
    """fsspec file system for ``azureml://datastores/<name>/paths/<path>``.

    Args:
        workspace: the workspace folder; default: ``LAKEWORKS_WORKSPACE``, the last
            ``MLClient``'s workspace, or the nearest ``lakeworks.toml`` upward.
        locator: finds a datastore's file system and root (default: Lakeworks' own).

    Example:
        >>> import pandas as pd  # doctest: +SKIP
        >>> pd.read_csv("azureml://datastores/lake/paths/raw/bikes.csv",  # doctest: +SKIP
        ...             storage_options={"workspace": "./my-workspace"})
    """

    protocol = ("azureml",)
    root_marker = ""

    def __init__(
        self, workspace: str | None = None, locator: Locator | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = str(workspace) if workspace is not None else None
        self._locator = locator

    # -- paths -------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if text.startswith("azureml://"):
            text = text[len("azureml://"):]
        text = _LONG.sub("", text.lstrip("/"))
        return text.rstrip("/")

    def unstrip_protocol(self, name: str) -> str:
        return "azureml://" + str(self._strip_protocol(name))

    def _split(self, path: str) -> tuple[str, str]:
        stripped = str(self._strip_protocol(path))
        m = _PATH.match(stripped)
        if m is None:
            raise InvalidInputError(
                f"'azureml://{stripped}' is not a datastore path: expected "
                "azureml://datastores/<name>/paths/<path>"
            )
        sub = m.group("path") or ""
        return m.group("ds"), safe_relative_path(sub, what="datastore path") if sub else ""

    def _resolve(self, path: str) -> tuple[AbstractFileSystem, str, str, str]:
        """(file system, full path on it, datastore root on it, datastore name)."""
        datastore, sub = self._split(path)
        if self._locator is None:
            self._locator = _entry_point_locator()
        fs, root = self._locator(datastore, self.workspace)
        root = root.rstrip("/")
        return fs, (f"{root}/{sub}" if sub else root), root, datastore

    @staticmethod
    def _back(datastore: str, root: str, name: str) -> str:
        name = str(name).rstrip("/")
        rel = name[len(root) + 1:] if name.startswith(root + "/") else ""
        base = f"datastores/{datastore}/paths"
        return f"{base}/{rel}" if rel else base

    def _entry(self, datastore: str, root: str, info: dict[str, Any]) -> dict[str, Any]:
        return {**info, "name": self._back(datastore, root, info["name"])}

    # -- reading -----------------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        fs, full, root, ds = self._resolve(path)
        entries = fs.ls(full, detail=True, **kwargs)
        mapped = [self._entry(ds, root, e) for e in entries]
        return mapped if detail else [e["name"] for e in mapped]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        fs, full, root, ds = self._resolve(path)
        return self._entry(ds, root, fs.info(full, **kwargs))

    def exists(self, path: str, **kwargs: Any) -> bool:
        fs, full, _, _ = self._resolve(path)
        return bool(fs.exists(full, **kwargs))

    def isdir(self, path: str) -> bool:
        fs, full, _, _ = self._resolve(path)
        return bool(fs.isdir(full))

    def isfile(self, path: str) -> bool:
        fs, full, _, _ = self._resolve(path)
        return bool(fs.isfile(full))

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        fs, full, root, ds = self._resolve(path)
        found = fs.find(full, maxdepth=maxdepth, withdirs=withdirs, detail=True, **kwargs)
        mapped = {self._back(ds, root, n): self._entry(ds, root, i) for n, i in found.items()}
        return mapped if detail else sorted(mapped)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        fs, full, _, _ = self._resolve(path)
        data: bytes = fs.cat_file(full, start=start, end=end, **kwargs)
        return data

    def get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        fs, full, _, _ = self._resolve(rpath)
        fs.get_file(full, lpath, **kwargs)

    def modified(self, path: str) -> Any:
        fs, full, _, _ = self._resolve(path)
        return fs.modified(full)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        fs, full, _, _ = self._resolve(path)
        return fs.open(
            full, mode=mode, block_size=block_size, autocommit=autocommit,
            cache_options=cache_options, **kwargs,
        )

    # -- writing -----------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        fs, full, _, _ = self._resolve(path)
        fs.pipe_file(full, value, **kwargs)

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        fs, full, _, _ = self._resolve(rpath)
        fs.put_file(lpath, full, **kwargs)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        fs1, full1, _, _ = self._resolve(path1)
        fs2, full2, _, _ = self._resolve(path2)
        if fs1 is fs2:
            fs1.cp_file(full1, full2, **kwargs)
        else:
            fs2.pipe_file(full2, fs1.cat_file(full1))

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        fs, full, _, _ = self._resolve(path)
        fs.mkdir(full, create_parents=create_parents, **kwargs)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        fs, full, _, _ = self._resolve(path)
        fs.makedirs(full, exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        fs, full, _, _ = self._resolve(path)
        fs.rmdir(full)

    def rm_file(self, path: str) -> None:
        fs, full, _, _ = self._resolve(path)
        fs.rm_file(full)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(
        self, path: Any, recursive: bool = False, maxdepth: int | None = None
    ) -> None:
        for one in [path] if isinstance(path, str) else list(path):
            fs, full, _, _ = self._resolve(one)
            fs.rm(full, recursive=recursive, maxdepth=maxdepth)

    def invalidate_cache(self, path: str | None = None) -> None:
        if path is None:
            return
        fs, full, _, _ = self._resolve(path)
        fs.invalidate_cache(full)


__all__ = ["LOCATOR_GROUP", "AzureMLFileSystem", "Locator"]
