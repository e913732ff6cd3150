"""``lakeworks datastore``: create (flags and YAML), show, list, test and delete, in fresh
workspaces; secrets never appear in any output."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import Result

from lakeworks.testing.s3 import S3Server

RunCli = Callable[..., Result]


@pytest.fixture(autouse=True)
def secret_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LAKEWORKS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield


def test_every_datastore_verb_has_help_with_examples(run_cli: RunCli) -> None:
    group = run_cli("datastore", "--help").stdout
    verbs = [line.split()[0] for line in group.split("Commands:")[1].splitlines() if line.strip()]
    assert sorted(verbs) == ["create", "delete", "list", "show", "test"]
    for verb in verbs:
        text = run_cli("datastore", verb, "--help").stdout
        assert "Examples:" in text and f"lakeworks datastore {verb}" in text, verb


def test_local_datastore_lifecycle(run_cli: RunCli, workspace: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    (lake / "raw" / "bikes.csv").write_text("a,b\n1,2\n")
    ws = ("--workspace", workspace)
    shown = json.loads(run_cli(*ws, "datastore", "create", "--name", "lake", "--path", lake,
                               "--description", "the lake", "-o", "json").stdout)
    assert shown["type"] == "local" and shown["path"] == str(lake)
    assert shown["url"] == lake.as_uri() and shown["description"] == "the lake"
    rows = json.loads(run_cli(*ws, "datastore", "list", "-o", "json").stdout)
    assert [r["name"] for r in rows] == ["workspaceblobstore", "lake"]
    assert rows[0]["is_default"] is True
    table = run_cli(*ws, "datastore", "list").stdout
    assert "workspaceblobstore" in table and "lake" in table
    out = run_cli(*ws, "datastore", "test", "--name", "lake").stdout
    assert "Connection to datastore 'lake' succeeded" in out and "raw" in out
    assert "the lake" in run_cli(*ws, "datastore", "show", "--name", "lake").stdout
    # declined confirmation keeps it; --yes deletes it
    run_cli(*ws, "datastore", "delete", "--name", "lake", expect=1)
    run_cli(*ws, "datastore", "show", "--name", "lake")
    assert "Deleted datastore 'lake'" in run_cli(*ws, "datastore", "delete", "--name", "lake",
                                                 "--yes").stdout
    gone = run_cli(*ws, "datastore", "show", "--name", "lake", expect=2)
    assert "datastore 'lake' does not exist" in gone.stderr
    refused = run_cli(*ws, "datastore", "delete", "--name", "workspaceblobstore", "--yes",
                      expect=2)
    assert "cannot be deleted" in refused.stderr


def test_failed_connection_test_says_why(run_cli: RunCli, workspace: Path,
                                         tmp_path: Path) -> None:
    ws = ("--workspace", workspace)
    run_cli(*ws, "datastore", "create", "--name", "gone", "--path", tmp_path / "missing")
    result = run_cli(*ws, "datastore", "test", "--name", "gone", expect=1)
    assert "connection to datastore 'gone' failed" in result.stderr
    assert "does not exist" in result.stderr
    adls = run_cli(*ws, "datastore", "create", "--name", "adls", "--url",
                   "abfss://files@datalakexyz.dfs.core.windows.net/data",
                   "--credential-env", "account_key=LW_TEST_ADLS_KEY", "-o", "json")
    shown = json.loads(adls.stdout)
    assert shown["type"] == "azure_data_lake_gen2" and shown["account_name"] == "datalakexyz"
    assert shown["credentials"] == {"account_key": "${{env:LW_TEST_ADLS_KEY}}"}
    result = run_cli(*ws, "datastore", "test", "--name", "adls", expect=1)
    assert "LW_TEST_ADLS_KEY" in result.stderr  # the variable is not set: named


def test_yaml_secrets_are_encrypted_and_never_printed(run_cli: RunCli, workspace: Path,
                                                      tmp_path: Path) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    (tmp_path / "blob.yml").write_text(textwrap.dedent(f"""
        name: blob_example
        type: azure_blob
        account_name: mytestblobstore
        container_name: data-container
        credentials:
          account_key: {secret}
    """))
    ws = ("--workspace", workspace)
    outputs = [
        run_cli(*ws, "datastore", "create", "--file", tmp_path / "blob.yml",
                "--set", "description=from yaml"),
        run_cli(*ws, "datastore", "show", "--name", "blob_example", "-o", "yaml"),
        run_cli(*ws, "datastore", "list", "-o", "json"),
        run_cli(*ws, "datastore", "list"),
    ]
    for result in outputs:
        assert secret not in result.stdout + result.stderr
    shown = outputs[1].stdout
    assert "account_key: (encrypted)" in shown and "description: from yaml" in shown
    for db in (workspace / ".lakeworks").glob("metadata.db*"):
        assert secret.encode() not in db.read_bytes()
    bad = run_cli(*ws, "datastore", "create", "--name", "x", expect=2)
    assert "--path" in bad.stderr


@pytest.mark.s3
def test_s3_datastore_from_flags(run_cli: RunCli, workspace: Path, s3_server: S3Server,
                                 s3_bucket_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_CLI_S3_KEY", "lakeworks-test")
    monkeypatch.setenv("LW_CLI_S3_SECRET", "lakeworks-test-secret")
    bucket = s3_bucket_url.split("/")[2]
    ws = ("--workspace", workspace)
    created = json.loads(run_cli(
        *ws, "datastore", "create", "--name", "raw", "--url", f"s3://{bucket}/raw",
        "--endpoint-url", s3_server.endpoint_url,
        "--credential-env", "access_key_id=LW_CLI_S3_KEY",
        "--credential-env", "secret_access_key=LW_CLI_S3_SECRET", "-o", "json").stdout)
    assert created["bucket"] == bucket and created["prefix"] == "raw"
    assert created["endpoint_url"] == s3_server.endpoint_url
    out = run_cli(*ws, "datastore", "test", "--name", "raw", "-o", "json").stdout
    assert json.loads(out)["ok"] is True
    assert "lakeworks-test-secret" not in out
