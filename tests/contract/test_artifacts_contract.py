"""Contract suite of the ArtifactStore port: every adapter must pass it unchanged.

Parametrised over ``LocalArtifactStore`` (a tmp folder) and ``FsspecArtifactStore`` on moto's
S3 server over 127.0.0.1 (no mocks). A few adapter-specific checks (symlinks, the URL factory,
connection failures) follow the shared suite.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lakeworks.adapters.artifacts import (
    FsspecArtifactStore,
    LocalArtifactStore,
    open_artifact_store,
)
from lakeworks.adapters.artifacts.fsspec_store import s3_storage_options
from lakeworks.errors import (
    BackendError,
    ConflictError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
)
from lakeworks.ports.artifacts import ArtifactStore
from lakeworks.testing.s3 import S3Server, missing_service

Opener = Callable[[], ArtifactStore]

ESCAPING_KEYS = ["../x", "/etc/passwd", "a/../../b", ".."]


def _require_s3fs() -> None:
    if importlib.util.find_spec("s3fs") is None:
        missing_service("s3fs is not installed; install it with: pip install 'lakeworks[s3]'")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens handles on one fresh store; each later handle is independent, like another process."""
    if request.param == "local":
        root = tmp_path / "store"
        return lambda: open_artifact_store(str(root))
    _require_s3fs()
    endpoint: str = request.getfixturevalue("s3_server").endpoint_url
    url: str = request.getfixturevalue("s3_bucket_url")
    staging_root = tmp_path / "staging"
    handles: list[ArtifactStore] = []

    def _open() -> ArtifactStore:
        options = s3_storage_options(endpoint)
        if handles:  # an fsspec file system of its own, with its own listing cache
            options["skip_instance_cache"] = True
        handles.append(FsspecArtifactStore(url, options, staging_root=staging_root))
        return handles[-1]

    return _open


@pytest.fixture
def store(open_store: Opener) -> ArtifactStore:
    return open_store()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A local folder for source files and downloads, apart from the store's root."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _make_tree(folder: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)), "sub/deeper/c.json": b"{}"}
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return files


def _read_tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# -- files -------------------------------------------------------------------------------------


def test_put_bytes_get_bytes_round_trip(store: ArtifactStore) -> None:
    store.put_bytes(b"hello\x00world", "notes/a.bin")
    assert store.get_bytes("notes/a.bin") == b"hello\x00world"
    assert store.list() == ["notes/a.bin"]


def test_put_file_round_trip(store: ArtifactStore, work: Path) -> None:
    src = work / "data.csv"
    src.write_bytes(b"x,y\n1,2\n")
    store.put_file(src, "LocalUpload/abc/data.csv")
    assert store.get_bytes("LocalUpload/abc/data.csv") == b"x,y\n1,2\n"
    assert store.list() == ["LocalUpload/abc/data.csv"]  # no temp files left behind
    local = store.local_path("LocalUpload/abc/data.csv")
    if local is not None:
        assert local.read_bytes() == b"x,y\n1,2\n"


def test_put_file_of_a_missing_local_file_is_not_found(store: ArtifactStore, work: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.csv"):
        store.put_file(work / "nope.csv", "k/nope.csv")
    assert not store.exists("k/nope.csv")


# -- folders -----------------------------------------------------------------------------------


def test_put_dir_list_and_download(store: ArtifactStore, work: Path) -> None:
    src = work / "model"
    files = _make_tree(src)
    store.put_dir(src, "models/m1")
    store.put_bytes(b"other", "models/m10/c.txt")
    store.put_bytes(b"top", "top.txt")

    expected = sorted(f"models/m1/{rel}" for rel in files)
    assert store.list() == sorted([*expected, "models/m10/c.txt", "top.txt"])
    assert store.list("models/m1") == expected  # a folder prefix, not a string prefix
    assert store.list("models/m1/") == expected
    assert store.list("models/m1/a.txt") == ["models/m1/a.txt"]
    assert store.list("missing") == []
    assert _read_tree(src) == files  # the source folder is left alone

    out = store.download("models/m1", work / "out")
    assert out == work / "out"
    assert _read_tree(out) == files

    single = store.download("models/m1/sub/b.bin", work / "single" / "b.bin")
    assert single.read_bytes() == files["sub/b.bin"]


def test_exists_and_is_dir(store: ArtifactStore, work: Path) -> None:
    _make_tree(work / "model")
    store.put_dir(work / "model", "models/m1")
    assert store.exists("models/m1") and store.is_dir("models/m1")
    assert store.exists("models") and store.is_dir("models")
    assert store.exists("models/m1/a.txt") and not store.is_dir("models/m1/a.txt")
    assert not store.exists("models/m2") and not store.is_dir("models/m2")


def test_staging_dir_and_commit_dir(store: ArtifactStore, work: Path) -> None:
    staging = store.staging_dir()
    assert staging.is_dir() and not any(staging.iterdir())
    assert staging != store.staging_dir()  # fresh each time
    files = _make_tree(staging)
    store.commit_dir(staging, "runs/r1/outputs")
    assert not staging.exists()  # moved or uploaded, then gone
    assert store.list("runs/r1/outputs") == sorted(f"runs/r1/outputs/{rel}" for rel in files)
    assert _read_tree(store.download("runs/r1/outputs", work / "out")) == files


def test_commit_to_an_existing_key_conflicts(store: ArtifactStore, work: Path) -> None:
    first = store.staging_dir()
    (first / "a.txt").write_bytes(b"first")
    store.commit_dir(first, "models/m1")

    second = store.staging_dir()
    (second / "a.txt").write_bytes(b"second")
    with pytest.raises(ConflictError, match="models/m1"):
        store.commit_dir(second, "models/m1")
    _make_tree(work / "model")
    with pytest.raises(ConflictError, match="models/m1"):
        store.put_dir(work / "model", "models/m1")
    assert store.get_bytes("models/m1/a.txt") == b"first"
    assert store.list("models/m1") == ["models/m1/a.txt"]


def test_uncommitted_staging_leaves_nothing_visible(
    store: ArtifactStore, open_store: Opener
) -> None:
    staging = store.staging_dir()
    _make_tree(staging)
    # the writer "crashes" here: commit_dir is never called
    for view in (store, open_store()):
        assert not view.exists("models/m1")
        assert not view.is_dir("models/m1")
        assert view.list() == []


def test_reads_see_writes_made_through_another_handle(
    store: ArtifactStore, open_store: Opener
) -> None:
    assert store.list() == [] and not store.exists("k/a.txt")  # fill any listing cache
    other = open_store()
    other.put_bytes(b"1", "k/a.txt")
    assert store.exists("k/a.txt") and store.is_dir("k")
    assert store.list() == ["k/a.txt"]
    other.delete("k")
    assert not store.exists("k/a.txt")
    assert store.list() == []


def test_delete_file_and_folder(store: ArtifactStore, work: Path) -> None:
    _make_tree(work / "model")
    store.put_dir(work / "model", "models/m1")
    store.put_bytes(b"keep", "models/m10/c.txt")
    store.delete("models/m1/a.txt")
    assert not store.exists("models/m1/a.txt")
    store.delete("models/m1")
    assert not store.exists("models/m1")
    assert store.list() == ["models/m10/c.txt"]
    store.delete("models/m1")  # missing: clean-up is idempotent


# -- errors ------------------------------------------------------------------------------------


def test_missing_keys_raise_not_found(store: ArtifactStore, work: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        store.get_bytes("nope/data.csv")
    assert "nope/data.csv" in str(caught.value) and store.url in str(caught.value)
    with pytest.raises(NotFoundError, match="nope"):
        store.download("nope", work / "out")
    store.put_bytes(b"x", "folder/a.txt")
    with pytest.raises(NotFoundError, match="folder"):
        store.get_bytes("folder")


def test_commit_of_a_missing_staging_folder_is_invalid(store: ArtifactStore, work: Path) -> None:
    with pytest.raises(InvalidInputError, match="staging"):
        store.commit_dir(work / "never-made", "models/m1")


_OPERATIONS: dict[str, Callable[[ArtifactStore, str, Path], object]] = {
    "put_bytes": lambda s, key, w: s.put_bytes(b"x", key),
    "put_file": lambda s, key, w: s.put_file(w / "f.txt", key),
    "put_dir": lambda s, key, w: s.put_dir(w / "d", key),
    "commit_dir": lambda s, key, w: s.commit_dir(w / "d", key),
    "get_bytes": lambda s, key, w: s.get_bytes(key),
    "download": lambda s, key, w: s.download(key, w / "out"),
    "exists": lambda s, key, w: s.exists(key),
    "is_dir": lambda s, key, w: s.is_dir(key),
    "list": lambda s, key, w: s.list(key),
    "local_path": lambda s, key, w: s.local_path(key),
    "delete": lambda s, key, w: s.delete(key),
}


@pytest.mark.parametrize("operation", sorted(_OPERATIONS))
@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_keys_escaping_the_root_are_rejected(
    store: ArtifactStore, work: Path, tmp_path: Path, operation: str, key: str
) -> None:
    (work / "f.txt").write_bytes(b"x")
    (work / "d").mkdir()
    (work / "d" / "g.txt").write_bytes(b"y")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(InvalidInputError, match="artifact key"):
        _OPERATIONS[operation](store, key, work)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert store.list() == []
    assert (work / "d" / "g.txt").exists()


# -- adapter-specific --------------------------------------------------------------------------


def test_local_symlink_out_of_the_root_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = LocalArtifactStore(tmp_path / "store")
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInputError, match="symbolic link"):
        store.get_bytes("link/secret.txt")
    with pytest.raises(InvalidInputError, match="symbolic link"):
        store.put_bytes(b"x", "link/new.txt")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_local_staging_is_on_the_root_file_system_and_never_a_key(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    staging = store.staging_dir()
    assert staging.is_relative_to(store.root)
    assert staging.stat().st_dev == store.root.stat().st_dev
    with pytest.raises(InvalidInputError, match="reserved"):
        store.exists(".staging")


def test_open_artifact_store_picks_the_adapter(tmp_path: Path) -> None:
    by_path = open_artifact_store(str(tmp_path / "a"))
    by_url = open_artifact_store((tmp_path / "a").as_uri())
    assert isinstance(by_path, LocalArtifactStore) and isinstance(by_url, LocalArtifactStore)
    assert by_path.url == by_url.url == (tmp_path / "a").resolve().as_uri()
    assert by_url.local_path("k") == (tmp_path / "a").resolve() / "k"
    with pytest.raises(InvalidInputError, match="nosuchproto://bucket/x"):
        open_artifact_store("nosuchproto://bucket/x")
    with pytest.raises(InvalidInputError, match="file://host/x"):
        open_artifact_store("file://host/x")


def test_s3_without_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependencyError, match=r"lakeworks\[s3\]"):
        open_artifact_store("s3://bucket/prefix")


@pytest.mark.s3
def test_s3_endpoint_from_the_environment(
    s3_server: S3Server, s3_bucket_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_s3fs()
    monkeypatch.setenv("LAKEWORKS_S3_ENDPOINT_URL", s3_server.endpoint_url)
    store = open_artifact_store(s3_bucket_url)
    assert isinstance(store, FsspecArtifactStore) and store.url == s3_bucket_url
    assert store.local_path("k") is None
    store.put_bytes(b"via env", "k")
    assert store.get_bytes("k") == b"via env"
    explicit = open_artifact_store(s3_bucket_url, s3_endpoint_url=s3_server.endpoint_url)
    assert explicit.get_bytes("k") == b"via env"


def test_s3_unreachable_endpoint_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _require_s3fs()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy")
    store = FsspecArtifactStore(
        "s3://bucket/prefix",
        {
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
            "config_kwargs": {"retries": {"max_attempts": 1}},
        },
    )
    with pytest.raises(BackendError, match="s3://bucket/prefix"):
        store.exists("k")
    # a bad key is refused before any request: no BackendError, no wait
    with pytest.raises(InvalidInputError):
        store.get_bytes("../k")
