"""Datastore rules in ``core.datastores``: storage URL forms, roots and credential references."""

from __future__ import annotations

import pytest

from lakeworks.core.datastores import (
    azure_fields_of_url,
    azure_root_url,
    check_credential_fields,
    env_reference,
    format_env_reference,
    parse_azure_url,
    s3_root_url,
    split_s3_url,
    type_of_url,
)
from lakeworks.core.lake import DatastoreType
from lakeworks.errors import InvalidInputError


@pytest.mark.parametrize(
    ("url", "account", "container", "path", "service", "secure"),
    [
        ("abfss://files@datalakexyz.dfs.core.windows.net/data/bike.csv",
         "datalakexyz", "files", "data/bike.csv", "dfs", True),
        ("abfs://files@datalakexyz.dfs.core.windows.net", "datalakexyz", "files", "", "dfs", False),
        ("wasbs://raw@store123.blob.core.windows.net/a/b", "store123", "raw", "a/b", "blob", True),
        ("https://datalakexyz.dfs.core.windows.net/files/data/x.parquet",
         "datalakexyz", "files", "data/x.parquet", "dfs", True),
    ],
)
def test_azure_url_forms(url: str, account: str, container: str, path: str, service: str,
                         secure: bool) -> None:
    parsed = parse_azure_url(url)
    assert (parsed.account, parsed.container, parsed.path) == (account, container, path)
    assert (parsed.service, parsed.secure, parsed.endpoint) == (service, secure, "core.windows.net")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("abfss://datalakexyz.dfs.core.windows.net/data", "names no container"),
        ("abfss://files@Not_An_Account.dfs.core.windows.net/data", "is not '<account>.dfs"),
        ("abfss://files@acct.queue.core.windows.net/data", "is not '<account>.dfs"),
        ("gs://bucket/x", "not an Azure storage URL"),
    ],
)
def test_malformed_azure_urls_say_what_is_expected(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_azure_url(url)


def test_roots_round_trip_through_their_fields() -> None:
    url = "abfss://files@datalakexyz.dfs.core.windows.net/data"
    fields = azure_fields_of_url(url)
    assert fields == {"account_name": "datalakexyz", "filesystem": "files", "protocol": "https",
                      "endpoint": "core.windows.net", "prefix": "data"}
    assert azure_root_url(DatastoreType.AZURE_DATA_LAKE_GEN2, "datalakexyz", "files",
                          prefix="data") == url
    assert azure_root_url(DatastoreType.AZURE_BLOB, "store123", "raw", protocol="http") == (
        "abfs://raw@store123.blob.core.windows.net")
    assert s3_root_url("lake", "/raw/") == "s3://lake/raw"
    assert split_s3_url("s3://lake/raw/day") == ("lake", "raw/day")
    with pytest.raises(InvalidInputError, match="not a valid S3 bucket name"):
        s3_root_url("Bad_Bucket")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/data/lake", DatastoreType.LOCAL),
        ("file:///data/lake", DatastoreType.LOCAL),
        ("s3://lake/raw", DatastoreType.S3),
        ("abfss://files@datalakexyz.dfs.core.windows.net", DatastoreType.AZURE_DATA_LAKE_GEN2),
        ("abfss://files@store123.blob.core.windows.net", DatastoreType.AZURE_BLOB),
    ],
)
def test_type_of_url(url: str, kind: DatastoreType) -> None:
    assert type_of_url(url) is kind


def test_env_references() -> None:
    assert env_reference("${{env:AZURE_STORAGE_KEY}}") == "AZURE_STORAGE_KEY"
    assert env_reference("${{ env:KEY }}") == "KEY"
    assert env_reference("${{env:1BAD}}") is None
    assert env_reference("just-a-secret") is None
    assert format_env_reference("KEY") == "${{env:KEY}}"
    with pytest.raises(InvalidInputError, match="environment variable name"):
        format_env_reference("NOT-VALID")


def test_credential_fields_are_checked_per_type() -> None:
    check_credential_fields(DatastoreType.S3, {"access_key_id": "x"}, name="raw")
    with pytest.raises(InvalidInputError, match="credential 'account_key' does not apply"):
        check_credential_fields(DatastoreType.S3, {"account_key": "x"}, name="raw")
    with pytest.raises(InvalidInputError, match="takes no credentials"):
        check_credential_fields(DatastoreType.LOCAL, {"account_key": "x"}, name="lake")
