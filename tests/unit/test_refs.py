"""Every asset reference and URI form of Azure ML parses, and malformed ones are rejected."""

from __future__ import annotations

import pytest

from lakeworks.core.refs import (
    AssetKind,
    is_asset_ref,
    parse_asset_ref,
    parse_datastore_uri,
    parse_job_output_uri,
)
from lakeworks.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "name", "version", "label", "registry"),
    [
        ("azureml:credit-card:initial", "credit-card", "initial", None, None),
        ("credit-card:1", "credit-card", "1", None, None),
        ("aml-scikit-learn:0.2.0", "aml-scikit-learn", "0.2.0", None, None),
        ("my-model@latest", "my-model", None, "latest", None),
        ("azureml:my-model@latest", "my-model", None, "latest", None),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            "sklearn-1.5", None, "latest", "azureml",
        ),
        (
            "azureml://registries/shared/models/churn/versions/3",
            "churn", "3", None, "shared",
        ),
        (
            "azureml:/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.MachineLearningServices/workspaces/ws/environments/env/versions/2",
            "env", "2", None, None,
        ),
    ],
)
def test_reference_forms(text: str, name: str, version: str | None, label: str | None,
                         registry: str | None) -> None:
    ref = parse_asset_ref(text)
    assert (ref.name, ref.version, ref.label, ref.registry) == (name, version, label, registry)


def test_registry_reference_of_wrong_kind_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="model asset where a environment"):
        parse_asset_ref("azureml://registries/r/models/m/versions/1", kind=AssetKind.ENVIRONMENT)


@pytest.mark.parametrize("text", ["", "credit-card", "azureml:", "a:", "@latest", "bad name:1",
                                  "azureml://datastores/x"])
def test_malformed_references(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_asset_ref(text)


def test_reference_without_version_says_how_to_fix() -> None:
    with pytest.raises(InvalidInputError, match="credit-card@latest"):
        parse_asset_ref("credit-card")


def test_is_asset_ref_tells_paths_from_references() -> None:
    assert is_asset_ref("azureml:data:1")
    assert is_asset_ref("data@latest")
    assert not is_asset_ref("./data/file.csv")
    assert not is_asset_ref("azureml://datastores/workspaceblobstore/paths/a.csv")


def test_datastore_uris_short_and_long() -> None:
    short = parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/LocalUpload/a/b.csv")
    assert short is not None and short.path == "LocalUpload/a/b.csv"
    long = parse_datastore_uri(
        "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/store1/paths/x/y/"
    )
    assert long is not None and (long.datastore, long.path) == ("store1", "x/y")
    assert parse_datastore_uri("s3://bucket/x") is None


def test_datastore_uri_escaping_the_root_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"\.\."):
        parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/../../etc/passwd")


def test_job_output_uri() -> None:
    out = parse_job_output_uri("azureml://jobs/coral_bell_x/outputs/model/paths/a/b")
    assert out is not None and (out.job, out.output, out.path) == ("coral_bell_x", "model", "a/b")
    assert parse_job_output_uri("azureml://jobs/j/outputs/o") is not None
