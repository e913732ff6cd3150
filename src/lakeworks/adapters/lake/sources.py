"""Input files for the lake's readers: finding them (a file or a folder), their format, opening them.

Owns turning a ``StorageLocation`` (a local path, ``file://`` or another fsspec URL such as
``s3://bucket/raw/``) into the list of files to read, in name order, with their sizes; the
format of each (from the extension: ``.csv``/``.tsv``/``.txt``, ``.parquet``/``.pq``,
``.json``/``.jsonl``/``.ndjson``, each optionally ``.gz``/``.bz2``/``.zst``); and opening one as
a pyarrow stream whose raw position can be read for progress. Hidden files and Spark/Hadoop
markers (names starting with ``.`` or ``_``, such as ``_SUCCESS``) are skipped in folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeworks.adapters.lake.options import fsspec_options, is_local, local_path, protocol
from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    LakeworksError,
    MissingDependencyError,
    NotFoundError,
)
from lakeworks.ports.lake import StorageLocation

FORMATS = ("csv", "parquet", "json")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
_FORMAT_ALIASES = {"jsonl": "json", "ndjson": "json", "tsv": "csv", "pq": "parquet"}


def format_name(text: str) -> str:
    """The reader format named by ``text`` (``csv``, ``parquet`` or ``json``)."""
    name = _FORMAT_ALIASES.get(text.lower().lstrip("."), text.lower().lstrip("."))
    if name not in FORMATS:
        raise InvalidInputError(f"format {text!r} is not supported", field="format",
                                allowed=FORMATS)
    return name


def _suffixes(name: str) -> tuple[str | None, str | None]:
    """(format, compression codec) from a file name's extensions."""
    lowered = name.lower()
    codec = None
    for ext, found in _COMPRESSION.items():
        if lowered.endswith(ext):
            codec, lowered = found, lowered[: -len(ext)]
    return _EXTENSIONS.get(os.path.splitext(lowered)[1]), codec


@dataclass(frozen=True)
class SourceFile:
    """One file to read: where it is, its size, its format and compression."""

    url: str  # shown in messages: a local path or a full URL
    size: int | None
    format: str | None
    compression: str | None
    fs: Any = None  # the fsspec file system of a remote file; None for local files
    path: str = ""  # the file's path in ``fs``

    @property
    def is_tsv(self) -> bool:
        name = self.url.lower()
        for ext in _COMPRESSION:
            name = name.removesuffix(ext)
        return name.endswith(".tsv")

    @contextmanager
    def open(self) -> Iterator[tuple[pa.NativeFile, pa.NativeFile]]:
        """``(stream, raw)``: the decompressed stream to read and the raw file (for ``tell``)."""
        try:
            if self.fs is None:
                raw: pa.NativeFile = pa.OSFile(self.url, "rb")
            else:
                raw = pa.PythonFile(self.fs.open(self.path, "rb"), mode="r")
        except FileNotFoundError:
            raise NotFoundError(f"file '{self.url}' does not exist") from None
        except OSError as exc:
            raise BackendError(f"could not open '{self.url}': {exc}") from exc
        try:
            stream = pa.CompressedInputStream(raw, self.compression) if self.compression else raw
            yield stream, raw
        finally:
            raw.close()


def _skipped(name: str) -> bool:
    return name.startswith((".", "_"))


def _local_files(path: Path) -> list[SourceFile]:
    if not path.exists():
        raise NotFoundError(f"'{path}' does not exist; give a file or a folder of files")
    if path.is_file():
        return [SourceFile(str(path), path.stat().st_size, *_suffixes(path.name))]
    found: list[SourceFile] = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(names):
            if not _skipped(name):
                file = Path(folder) / name
                found.append(SourceFile(str(file), file.stat().st_size, *_suffixes(name)))
    return found


def _open_fs(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    try:
        import fsspec  # imported here: only remote sources need it
    except ImportError as exc:  # pragma: no cover - fsspec is a dependency
        raise MissingDependencyError("fsspec", "s3", f"reading {url}") from exc
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        package = "s3fs" if protocol(url) in ("s3", "s3a") else "adlfs"
        extra = "s3" if package == "s3fs" else "azure"
        raise MissingDependencyError(package, extra, f"reading {url}") from exc
    except ValueError as exc:
        raise InvalidInputError(f"cannot read {url!r}: {exc}") from None
    return fs, str(path)


def _remote_files(url: str, options: dict[str, Any]) -> list[SourceFile]:
    fs, path = _open_fs(url, options)
    try:
        fs.invalidate_cache()
        if not fs.exists(path):
            raise NotFoundError(f"'{url}' does not exist; give a file or a folder of files")
        if not fs.isdir(path):
            size = fs.size(path)
            return [SourceFile(fs.unstrip_protocol(path), size, *_suffixes(path), fs=fs,
                               path=path)]
        entries = fs.find(path, detail=True)
    except LakeworksError:
        raise
    except FileNotFoundError:
        raise NotFoundError(f"'{url}' does not exist; give a file or a folder of files") from None
    except OSError as exc:
        raise BackendError(f"could not list '{url}': {exc}") from exc
    found: list[SourceFile] = []
    for name in sorted(entries):
        relative = name[len(path):].strip("/")
        if any(_skipped(part) for part in relative.split("/")):
            continue
        info = entries[name]
        if info.get("type") == "directory":
            continue
        found.append(SourceFile(fs.unstrip_protocol(name), info.get("size"), *_suffixes(name),
                                fs=fs, path=name))
    return found


def find_sources(location: StorageLocation, format: str | None) -> tuple[list[SourceFile], str]:
    """The files at ``location`` to read, and their format.

    Raises:
        NotFoundError: nothing at ``location``.
        InvalidInputError: an empty folder, an unknown extension without ``format``, or a
            folder mixing formats.
    """
    if is_local(location.url):
        files = _local_files(Path(local_path(location.url)).expanduser())
    else:
        files = _remote_files(location.url, fsspec_options(location.url, location.options))
    wanted = format_name(format) if format else None
    if wanted is not None and len(files) > 1:
        files = [f for f in files if f.format in (wanted, None)]
    if not files:
        raise InvalidInputError(
            f"'{location.url}' holds no files to read"
            + (f" of format {wanted}" if wanted else "")
        )
    if wanted is not None:
        return files, wanted
    kinds = {f.format for f in files}
    if None in kinds or len(kinds) != 1:
        unknown = [f.url for f in files if f.format is None][:3]
        detail = (f"cannot tell the format of {', '.join(unknown)}" if unknown
                  else f"it mixes formats ({', '.join(sorted(str(k) for k in kinds))})")
        raise InvalidInputError(
            f"'{location.url}': {detail}; give the format (csv, parquet or json; CLI --format)",
            field="format", allowed=FORMATS,
        )
    return files, str(kinds.pop())
