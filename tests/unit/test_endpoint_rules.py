"""Online endpoint rules: names, Azure's defaults, traffic and mirror rules, keys and tokens."""

from __future__ import annotations

import pytest

from lakeworks.core.endpoints import (
    DeploymentRuntime,
    EndpointKeys,
    OnlineDeploymentSpec,
    OnlineEndpointSpec,
    RequestSettings,
    build_spec,
    check_token,
    check_traffic,
    issue_token,
    parse_traffic,
)
from lakeworks.errors import InvalidInputError


@pytest.mark.parametrize("name", ["ab", "1abc", "abc-", "a" * 33, "has_underscore", "sp ace"])
def test_bad_endpoint_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidInputError, match="3 to 32 characters") as info:
        build_spec(OnlineEndpointSpec, {"name": name}, source="endpoint.yml")
    assert info.value.field == "name"


def test_deployment_names_allow_underscores_but_not_a_leading_digit() -> None:
    assert OnlineDeploymentSpec(name="blue_v2", endpoint_name="ep1", model="m").name == "blue_v2"
    with pytest.raises(ValueError, match="deployment name '2blue'"):
        OnlineDeploymentSpec(name="2blue", endpoint_name="ep1", model="m")


def test_azure_defaults() -> None:
    spec = OnlineDeploymentSpec(name="blue", endpoint_name="credit", model="azureml:m@latest")
    assert spec.instance_count == 1
    assert spec.request_settings.request_timeout_ms == 5000
    assert spec.request_settings.max_concurrent_requests_per_instance == 1
    assert (spec.liveness_probe.period, spec.liveness_probe.failure_threshold) == (10, 30)
    assert OnlineEndpointSpec(name="credit").auth_mode.value == "key"
    given = build_spec(OnlineEndpointSpec, {"name": "credit", "auth_mode": "AML_Token"},
                       source="e.yml")
    assert given.auth_mode.value == "aml_token"


def test_a_deployment_needs_a_model_or_a_script() -> None:
    with pytest.raises(InvalidInputError, match="needs a model"):
        build_spec(OnlineDeploymentSpec, {"name": "blue", "endpoint_name": "credit"},
                   source="blue.yml")


def test_request_timeout_is_capped_at_azures_maximum() -> None:
    with pytest.raises(ValueError):
        RequestSettings(request_timeout_ms=180_001)


@pytest.mark.parametrize(
    ("traffic", "mirror", "message"),
    [
        ({"blue": 90, "green": 20}, {}, "add up to 100"),
        ({"blue": 50}, {}, "adds up to 50"),
        ({"blue": 100}, {"green": 60}, "at most 50%"),
        ({"blue": 100}, {"blue": 10}, "cannot also receive mirror traffic"),
        ({"blue": 100}, {"green": 10, "red": 10}, "only one deployment"),
        ({"blue": 101}, {}, "whole percentage"),
    ],
)
def test_traffic_rules(traffic: dict[str, int], mirror: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_traffic(traffic, mirror)


def test_traffic_must_name_existing_deployments() -> None:
    check_traffic({"blue": 90, "green": 10}, {}, {"blue", "green"})
    check_traffic({"blue": 0}, {}, {"blue"})  # all zero: only requests naming a deployment
    with pytest.raises(InvalidInputError, match="deployment 'green' does not exist") as info:
        check_traffic({"blue": 90, "green": 10}, {}, {"blue"})
    assert info.value.field == "traffic.green"


def test_parse_traffic_accepts_spaces_and_commas() -> None:
    assert parse_traffic("blue=90 green=10") == {"blue": 90, "green": 10}
    assert parse_traffic("blue=90,green=10") == {"blue": 90, "green": 10}
    with pytest.raises(InvalidInputError, match="deployment=percent"):
        parse_traffic("blue:90")


def test_build_spec_names_the_unknown_field() -> None:
    with pytest.raises(InvalidInputError, match="unknown field") as info:
        build_spec(OnlineEndpointSpec, {"name": "credit", "trafic": {}}, source="e.yml")
    assert info.value.field == "trafic" and info.value.file == "e.yml"


def test_keys_regenerate_one_at_a_time() -> None:
    keys = EndpointKeys.generate()
    again = keys.regenerate("secondary")
    assert again.primary == keys.primary and again.secondary != keys.secondary
    with pytest.raises(InvalidInputError, match="neither 'primary' nor 'secondary'"):
        keys.regenerate("tertiary")


def test_tokens_expire_and_are_bound_to_their_endpoint() -> None:
    token, expiry = issue_token("credit", "secret", now=1000.0, lifetime_s=60)
    assert expiry == 1060.0
    assert check_token(token, "credit", "secret", now=1030.0) is None
    assert "expired" in (check_token(token, "credit", "secret", now=1061.0) or "")
    assert "another endpoint" in (check_token(token, "other", "secret", now=1030.0) or "")
    assert "not valid" in (check_token(token, "credit", "other-secret", now=1030.0) or "")
    assert "not valid" in (check_token("garbage", "credit", "secret") or "")


def test_fingerprint_ignores_request_settings_but_not_the_model() -> None:
    base = DeploymentRuntime(endpoint="credit", name="blue", kind="onnx", python="python",
                             onnx_path="/m/1/model.onnx", log_dir="/logs")
    assert base.max_in_flight == 2
    looser = base.model_copy(update={"request_settings": RequestSettings(
        max_concurrent_requests_per_instance=4)})
    assert looser.fingerprint == base.fingerprint and looser.max_in_flight == 8
    other = base.model_copy(update={"onnx_path": "/m/2/model.onnx"})
    assert other.fingerprint != base.fingerprint
