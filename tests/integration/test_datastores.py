"""Datastores end to end: one behaviour suite over a local folder and S3 (moto's real server),
credentials (environment references, encryption), ``azureml://`` paths read by pandas, pyarrow
and DuckDB inside and outside job steps, jobs reading from and writing to named datastores, and
Azure Data Lake roots without adlfs installed.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from lakeworks import Input, MLClient, Output, command, load_datastore
from lakeworks.adapters.artifacts import open_filesystem
from lakeworks.core.lake import CredentialKind
from lakeworks.entities import (
    AccountKeyConfiguration,
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    Data,
    Datastore,
    EnvVar,
    LocalDatastore,
    S3Credentials,
    S3Datastore,
)
from lakeworks.errors import InvalidInputError, MissingDependencyError, NotFoundError
from lakeworks.services import adapter_registry
from lakeworks.services.datastores import DatastoreService
from lakeworks.services.workspace import Workspace
from lakeworks.testing.s3 import S3Server

MakeDatastore = Callable[[str], Datastore]
CSV = "city,rentals\nOslo,3\nLima,5\n"


@pytest.fixture(scope="module", autouse=True)
def secret_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Lakeworks key for the module (job runners inherit it), and a private config folder."""
    key = Fernet.generate_key().decode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEWORKS_SECRET_KEY", key)
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        yield key


@pytest.fixture(params=["local", "s3"])
def make_datastore(request: pytest.FixtureRequest, tmp_path: Path) -> MakeDatastore:
    """Builds a datastore entity of the parametrised kind (S3: a fresh bucket on moto)."""
    if request.param == "local":
        return lambda name: LocalDatastore(name=name, path=tmp_path / f"lake-{name}")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket_url").split("/")[2]
    return lambda name: S3Datastore(
        name=name, bucket=bucket, prefix=f"roots/{name}", endpoint_url=server.endpoint_url,
        credentials=S3Credentials(access_key_id="lakeworks-test",
                                  secret_access_key="lakeworks-test-secret"),
    )


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def wait_done(ml: MLClient, name: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ml.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled", "NotResponding"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {name} did not finish within {timeout} s")


# -- one behaviour, every kind of root ---------------------------------------------------------


def test_create_get_list_delete(ml_client: MLClient, make_datastore: MakeDatastore) -> None:
    name = unique("ds")
    ds = make_datastore(name)
    ds.description = "bike data"
    ds.tags = {"team": "lake"}
    created = ml_client.datastores.create_or_update(ds)
    assert (created.name, created.type, created.description) == (name, ds.type, "bike data")
    assert created.tags == {"team": "lake"} and not created.is_default
    got = ml_client.datastores.get(name)
    assert got.url == created.url and got.created_at == created.created_at
    listed = ml_client.datastores.list()
    assert listed[0].name == "workspaceblobstore" and listed[0].is_default
    assert name in [d.name for d in listed]
    ds.description = "updated"
    again = ml_client.datastores.create_or_update(ds)
    assert again.description == "updated" and again.created_at == created.created_at
    ml_client.datastores.delete(name)
    with pytest.raises(NotFoundError, match=f"datastore '{name}' does not exist"):
        ml_client.datastores.get(name)


def test_store_resolve_and_test_connection(module_ws: Workspace,
                                           make_datastore: MakeDatastore) -> None:
    ml = MLClient(workspace=module_ws.path)
    name = unique("ds")
    ml.datastores.create_or_update(make_datastore(name))
    svc = DatastoreService(module_ws)
    store = svc.store(name)
    store.put_bytes(CSV.encode(), "raw/bikes.csv")
    assert store.list("raw") == ["raw/bikes.csv"]
    loc = svc.resolve_location(f"azureml://datastores/{name}/paths/raw/bikes.csv")
    fs, path = open_filesystem(loc.url, loc.options)
    assert fs.cat_file(path).decode() == CSV
    long_form = (f"azureml://subscriptions/0/resourcegroups/rg/workspaces/{module_ws.name}/"
                 f"datastores/{name}/paths/raw/bikes.csv")
    assert svc.resolve_location(long_form) == loc
    check = ml.datastores.test_connection(name)
    assert check.ok, check.detail
    assert check.entries == ("raw",)


def test_pandas_pyarrow_duckdb_read_azureml_paths(module_ws: Workspace,
                                                   make_datastore: MakeDatastore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ml = MLClient(workspace=module_ws.path)
    name = unique("ds")
    ml.datastores.create_or_update(make_datastore(name))
    DatastoreService(module_ws).store(name).put_bytes(CSV.encode(), "x.csv")
    uri = f"azureml://datastores/{name}/paths/x.csv"
    # the workspace named explicitly, then from LAKEWORKS_WORKSPACE
    frame = pd.read_csv(uri, storage_options={"workspace": str(module_ws.path)})
    assert frame.to_dict("list") == {"city": ["Oslo", "Lima"], "rentals": [3, 5]}
    monkeypatch.setenv("LAKEWORKS_WORKSPACE", str(module_ws.path))
    assert pd.read_csv(uri)["rentals"].sum() == 8
    # writing through the protocol lands in the datastore
    frame.to_parquet(f"azureml://datastores/{name}/paths/out/x.parquet")
    assert DatastoreService(module_ws).store(name).exists("out/x.parquet")
    assert pd.read_parquet(f"azureml://datastores/{name}/paths/out").shape == (2, 2)
    fs = fsspec.filesystem("azureml")
    assert sorted(fs.ls(f"azureml://datastores/{name}/paths/", detail=False)) == [
        f"datastores/{name}/paths/out", f"datastores/{name}/paths/x.csv"]
    table = pq.read_table(f"azureml://datastores/{name}/paths/out/x.parquet", filesystem=fs)
    assert table.column("rentals").to_pylist() == [3, 5]
    con = duckdb.connect()
    con.register_filesystem(fs)
    assert con.execute(f"SELECT sum(rentals) FROM read_csv('{uri}')").fetchall() == [(8,)]


def test_data_asset_on_a_datastore(ml_client: MLClient, module_ws: Workspace,
                                   make_datastore: MakeDatastore) -> None:
    name = unique("ds")
    ml_client.datastores.create_or_update(make_datastore(name))
    DatastoreService(module_ws).store(name).put_bytes(CSV.encode(), "bikes/day.csv")
    data = ml_client.data.create_or_update(Data(
        name=unique("bikes"), version="1", type="uri_file",
        path=f"azureml://datastores/{name}/paths/bikes/day.csv"))
    assert data.path == f"azureml://datastores/{name}/paths/bikes/day.csv"
    # as Azure's tutorials do: read the asset's stored path with pandas (workspace of ml_client)
    assert pd.read_csv(data.path).shape == (2, 2)
    assert data.name is not None
    assert ml_client.data.local_path(data.name, version="1").read_text() == CSV
    with pytest.raises(NotFoundError, match="datastore 'nowhere' does not exist"):
        ml_client.data.create_or_update(Data(
            name="lost", version="1", type="uri_file",
            path="azureml://datastores/nowhere/paths/x.csv"))


def test_job_reads_from_and_writes_to_a_datastore(ml_client: MLClient, module_ws: Workspace,
                                                  make_datastore: MakeDatastore,
                                                  tmp_path: Path) -> None:
    name = unique("ds")
    ml_client.datastores.create_or_update(make_datastore(name))
    DatastoreService(module_ws).store(name).put_bytes(CSV.encode(), "in/day.csv")
    asset = ml_client.data.create_or_update(Data(
        name=unique("bikes"), version="1", type="uri_file",
        path=f"azureml://datastores/{name}/paths/in/day.csv"))
    code = tmp_path / "code"
    code.mkdir()
    (code / "step.py").write_text(textwrap.dedent(f"""
        import os, sys
        import pandas as pd
        given = pd.read_csv(sys.argv[1])                       # the materialised input
        direct = pd.read_csv("azureml://datastores/{name}/paths/in/day.csv")  # in the step
        assert given.equals(direct), (given, direct)
        given.assign(double=given.rentals * 2).to_csv(
            os.path.join(sys.argv[2], "doubled.csv"), index=False)
    """))
    job = command(
        command="python step.py ${{inputs.bikes}} ${{outputs.result}}",
        code=code,
        inputs={"bikes": Input(type="uri_file", path=f"azureml:{asset.name}:1")},
        outputs={"result": Output(type="uri_folder",
                                  path=f"azureml://datastores/{name}/paths/out/${{{{name}}}}")},
        experiment_name="it-datastores",
    )
    submitted = ml_client.jobs.create_or_update(job)
    assert submitted.name is not None
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error  # type: ignore[attr-defined]
    out_uri = f"azureml://datastores/{name}/paths/out/{submitted.name}"
    assert done.outputs["result"].path == out_uri  # type: ignore[attr-defined]
    store = DatastoreService(module_ws).store(name)
    assert store.list(f"out/{submitted.name}") == [f"out/{submitted.name}/doubled.csv"]
    assert pd.read_csv(out_uri + "/doubled.csv")["double"].tolist() == [6, 10]
    ml_client.jobs.download(submitted.name, download_path=tmp_path / "dl", output_name="result")
    assert (tmp_path / "dl" / "named-outputs" / "result" / "doubled.csv").is_file()


# -- credentials -------------------------------------------------------------------------------


def test_env_references_are_resolved_at_use(module_ws: Workspace, s3_server: S3Server,
                                            s3_bucket_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ml = MLClient(workspace=module_ws.path)
    name = unique("s3env")
    bucket = s3_bucket_url.split("/")[2]
    monkeypatch.delenv("LW_TEST_S3_KEY", raising=False)
    monkeypatch.delenv("LW_TEST_S3_SECRET", raising=False)
    # saved while the variables are not even set: only their names are stored
    ml.datastores.create_or_update(S3Datastore(
        name=name, bucket=bucket, endpoint_url=s3_server.endpoint_url,
        credentials=S3Credentials(access_key_id=EnvVar("LW_TEST_S3_KEY"),
                                  secret_access_key="${{env:LW_TEST_S3_SECRET}}")))
    record = module_ws.metadata.datastores.get(name)
    assert record.credentials.kind is CredentialKind.ENV
    assert record.credentials.values == {"access_key_id": "LW_TEST_S3_KEY",
                                         "secret_access_key": "LW_TEST_S3_SECRET"}
    got = ml.datastores.get(name)
    assert got.credentials.access_key_id == EnvVar("LW_TEST_S3_KEY")  # type: ignore[union-attr]
    svc = DatastoreService(module_ws)
    with pytest.raises(NotFoundError, match="environment variable 'LW_TEST_S3_KEY'"):
        svc.store(name)
    monkeypatch.setenv("LW_TEST_S3_KEY", "lakeworks-test")
    with pytest.raises(NotFoundError, match="'LW_TEST_S3_SECRET', which is not set"):
        ml.datastores.get(name, include_secrets=True)
    check = ml.datastores.test_connection(name)
    assert not check.ok and "LW_TEST_S3_SECRET" in check.detail
    monkeypatch.setenv("LW_TEST_S3_SECRET", "lakeworks-test-secret")
    svc.store(name).put_bytes(b"ok", "probe.txt")
    assert svc.resolve_location(f"azureml://datastores/{name}/paths/probe.txt").options[
        "secret"] == "lakeworks-test-secret"
    secrets = ml.datastores.get(name, include_secrets=True).credentials
    assert secrets.secret_access_key == "lakeworks-test-secret"  # type: ignore[union-attr]


def test_encrypted_secrets_never_reach_the_database_in_plain_text(
    module_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml = MLClient(workspace=module_ws.path)
    secret = f"plain-{uuid.uuid4().hex}-key"
    name = unique("blob")
    ml.datastores.create_or_update(AzureBlobDatastore(
        name=name, account_name="mytestblobstore", container_name="data-container",
        credentials=AccountKeyConfiguration(account_key=secret)))
    # the database file and SQLite's write-ahead log beside it
    raw = b"".join(p.read_bytes() for p in module_ws.state_dir.glob("metadata.db*"))
    assert name.encode() in raw  # the record is there...
    assert secret.encode() not in raw  # ...its secret is not
    record = module_ws.metadata.datastores.get(name)
    assert record.credentials.kind is CredentialKind.ENCRYPTED
    assert ml.datastores.get(name).credentials.account_key is None  # type: ignore[union-attr]
    assert "***" in repr(AccountKeyConfiguration(account_key=secret))
    got = ml.datastores.get(name, include_secrets=True)
    assert got.credentials.account_key == secret  # type: ignore[union-attr]
    # saving what get() returned (no secrets in it) keeps the stored secret
    got_plain = ml.datastores.get(name)
    got_plain.description = "renamed"
    ml.datastores.create_or_update(got_plain)
    again = ml.datastores.get(name, include_secrets=True)
    assert again.credentials.account_key == secret  # type: ignore[union-attr]
    # another user's key cannot read it
    monkeypatch.setenv("LAKEWORKS_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(InvalidInputError, match=f"datastore '{name}', credential 'account_key'"):
        ml.datastores.get(name, include_secrets=True)


def test_mixed_references_and_values_are_refused(ml_client: MLClient) -> None:
    with pytest.raises(InvalidInputError, match="not a mix"):
        ml_client.datastores.create_or_update(S3Datastore(
            name="mixed", bucket="some-bucket",
            credentials=S3Credentials(access_key_id=EnvVar("K"), secret_access_key="value")))
    with pytest.raises(InvalidInputError, match="cannot use S3Credentials"):
        ml_client.datastores.create_or_update(AzureBlobDatastore(
            name="wrong", account_name="acct123", container_name="c",
            credentials=S3Credentials(access_key_id="a", secret_access_key="b")))


def test_the_key_file_is_made_once_with_private_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKEWORKS_SECRET_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    box = adapter_registry.load("secrets")()
    key_file = tmp_path / "cfg" / "lakeworks" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = box.encrypt("hello")
    assert "hello" not in token
    assert adapter_registry.load("secrets")().decrypt(token) == "hello"
    monkeypatch.setenv("LAKEWORKS_SECRET_KEY", "not-a-key")
    with pytest.raises(InvalidInputError, match="LAKEWORKS_SECRET_KEY is not a valid key"):
        adapter_registry.load("secrets")()


# -- the default datastore, Azure roots, YAML ---------------------------------------------------


def test_the_default_datastore(ml_client: MLClient, module_ws: Workspace) -> None:
    default = ml_client.datastores.get_default()
    assert default.name == "workspaceblobstore" and default.is_default
    assert default.url == module_ws.artifacts.url
    with pytest.raises(InvalidInputError, match="cannot be deleted"):
        ml_client.datastores.delete("workspaceblobstore")
    with pytest.raises(InvalidInputError, match="cannot be redefined"):
        ml_client.datastores.create_or_update(
            LocalDatastore(name="workspaceblobstore", path="/tmp"))


@pytest.mark.skipif(importlib.util.find_spec("adlfs") is not None, reason="adlfs is installed")
def test_synapse_abfss_root_without_adlfs(ml_client: MLClient, module_ws: Workspace,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_TEST_ADLS_KEY", "k3y")
    ds = Datastore.from_url("adls", "abfss://files@datalakexyz.dfs.core.windows.net/data",
                            credentials=AccountKeyConfiguration(
                                account_key="${{env:LW_TEST_ADLS_KEY}}"))
    assert isinstance(ds, AzureDataLakeGen2Datastore)
    assert (ds.account_name, ds.filesystem, ds.protocol) == ("datalakexyz", "files", "https")
    stored = ml_client.datastores.create_or_update(ds)
    assert stored.url == "abfss://files@datalakexyz.dfs.core.windows.net/data"
    svc = DatastoreService(module_ws)
    loc = svc.resolve_location("azureml://datastores/adls/paths/bike.csv")
    assert loc.url == "abfss://files@datalakexyz.dfs.core.windows.net/data/bike.csv"
    assert dict(loc.options) == {"account_name": "datalakexyz", "account_key": "k3y"}
    # a plain Synapse path under the root is reached with the datastore's credentials
    plain = svc.resolve_location("abfss://files@datalakexyz.dfs.core.windows.net/data/x/y.csv")
    assert plain.options == loc.options
    with pytest.raises(MissingDependencyError, match=r"adlfs.*pip install 'lakeworks\[azure\]'"):
        svc.store("adls")
    check = ml_client.datastores.test_connection("adls")
    assert not check.ok and "lakeworks[azure]" in check.detail
    with pytest.raises(InvalidInputError, match=r"is not '<account>\.dfs\.<endpoint>'"):
        Datastore.from_url("bad", "abfss://files@not_a_host/data")


def test_load_datastore_yaml(tmp_path: Path, ml_client: MLClient) -> None:
    (tmp_path / "blob.yml").write_text(textwrap.dedent("""
        $schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
        name: blob_example
        type: azure_blob
        description: Datastore pointing to a blob container.
        account_name: mytestblobstore
        container_name: data-container
        credentials:
          account_key: ${{env:LW_TEST_BLOB_KEY}}
    """))
    blob = load_datastore(tmp_path / "blob.yml")
    assert isinstance(blob, AzureBlobDatastore)
    assert blob.credentials.account_key == "${{env:LW_TEST_BLOB_KEY}}"  # type: ignore[union-attr]
    stored = ml_client.datastores.create_or_update(blob)
    assert stored.url == "abfss://data-container@mytestblobstore.blob.core.windows.net"
    assert stored.credentials.account_key == EnvVar("LW_TEST_BLOB_KEY")  # type: ignore[union-attr]
    (tmp_path / "local.yml").write_text("name: lake\ntype: local\npath: ./lake\n")
    local = load_datastore(tmp_path / "local.yml", params_override=[{"description": "mine"}])
    assert isinstance(local, LocalDatastore) and local.path == str(tmp_path / "lake")
    assert local.description == "mine"
    (tmp_path / "bad.yml").write_text("name: s\ntype: s3\nbucket: b-1\ncontainer_name: x\n")
    with pytest.raises(InvalidInputError, match=r"bad.yml:4: field 'container_name'.*does not "
                                                r"apply to a s3 datastore"):
        load_datastore(tmp_path / "bad.yml")
    (tmp_path / "creds.yml").write_text(
        "name: s\ntype: s3\nbucket: b-1\ncredentials:\n  account_key: x\n")
    with pytest.raises(InvalidInputError, match=r"creds.yml:5: field 'credentials.account_key'"):
        load_datastore(tmp_path / "creds.yml")
    (tmp_path / "url.yml").write_text(
        "name: adls\nurl: abfss://files@datalakexyz.dfs.core.windows.net/data\n")
    assert isinstance(load_datastore(tmp_path / "url.yml"), AzureDataLakeGen2Datastore)


def test_missing_workspace_for_azureml_paths_is_explained(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lakeworks.services import azureml_paths

    monkeypatch.delenv("LAKEWORKS_WORKSPACE", raising=False)
    monkeypatch.setattr(azureml_paths, "_current", [])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match="LAKEWORKS_WORKSPACE"):
        pd.read_csv("azureml://datastores/lake/paths/x.csv")
    assert os.getcwd() == str(tmp_path)
