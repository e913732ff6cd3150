"""Online endpoints and deployments as values: Azure's fields, defaults and rules.

Owns what an online endpoint (``name``, ``auth_mode``, ``traffic``, ``mirror_traffic``) and an
online deployment (``model``, ``code_configuration``, ``environment``, ``instance_count``,
``request_settings``, probes, ``data_collector``, Lakeworks' ``batching``) are, Azure's defaults
(a 5 s request timeout, one concurrent request per instance, probes every 10 s), the traffic
rules (percentages summing to 100 or 0, one mirror deployment at 50 % or less, a deployment is
live or mirrored, never both), and the *runtime* records a serving process reads: an endpoint
with its keys, a deployment resolved to files on this machine. No I/O: services store and
resolve these, ``lakeworks.serving`` runs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakeworks.errors import InvalidInputError

#: Azure's rule for endpoint names: 3 to 32 characters, a letter first, letters, digits and '-'.
_ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
#: Deployment names: 3 to 32 characters, a letter first, letters, digits, '-' and '_'.
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,30}[A-Za-z0-9]$")

MAX_REQUEST_TIMEOUT_MS = 180_000
MAX_MIRROR_PERCENT = 50
#: The header that sends a request to one deployment, bypassing the traffic split.
DEPLOYMENT_HEADER = "azureml-model-deployment"
#: Collections a deployment can enable; ``request``/``response`` hold raw HTTP payloads.
COLLECTIONS = ("model_inputs", "model_outputs", "model_inputs_outputs", "request", "response")
ROLLING_RATES = ("minute", "hour", "day", "month", "year")


class AuthMode(StrEnum):
    KEY = "key"
    AML_TOKEN = "aml_token"
    AAD_TOKEN = "aad_token"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _check_name(name: str, pattern: re.Pattern[str], what: str, rule: str, field: str) -> str:
    if not isinstance(name, str) or not pattern.match(name):
        raise InvalidInputError(f"{what} name {name!r} is not valid: use 3 to 32 characters, "
                                f"start with a letter, then {rule}", field=field)
    return name


def check_endpoint_name(name: str, *, field: str = "name") -> str:
    """``name`` if it is a legal endpoint name.

    Raises:
        InvalidInputError: says the rule and shows the name.
    """
    return _check_name(name, _ENDPOINT_NAME, "endpoint",
                       "letters, digits or '-' (not ending with '-')", field)


def check_deployment_name(name: str, *, field: str = "name") -> str:
    """``name`` if it is a legal deployment name.

    Raises:
        InvalidInputError: says the rule and shows the name.
    """
    return _check_name(name, _DEPLOYMENT_NAME, "deployment", "letters, digits, '-' or '_'",
                       field)


def check_traffic(traffic: dict[str, int], mirror: dict[str, int],
                  deployments: set[str] | None = None) -> None:
    """Azure's traffic rules.

    ``traffic`` sums to 100 (or to 0: the endpoint answers only requests naming a deployment);
    ``mirror`` names at most one deployment at 50 % or less, which takes no live traffic;
    with ``deployments`` given, every name must be one of them.

    Raises:
        InvalidInputError: names the field and the deployment at fault.
    """
    for field, shares in (("traffic", traffic), ("mirror_traffic", mirror)):
        for name, share in shares.items():
            if not isinstance(share, int) or isinstance(share, bool) or not 0 <= share <= 100:
                raise InvalidInputError(
                    f"share {share!r} of deployment '{name}' must be a whole percentage "
                    "from 0 to 100", field=f"{field}.{name}")
            if deployments is not None and name not in deployments:
                known = ", ".join(sorted(deployments)) or "none yet"
                raise InvalidInputError(
                    f"deployment '{name}' does not exist in this endpoint (deployments: "
                    f"{known}); create it first, then give it traffic", field=f"{field}.{name}")
    total = sum(traffic.values())
    if total not in (0, 100):
        shares_text = ", ".join(f"{n}={s}" for n, s in traffic.items())
        raise InvalidInputError(
            f"traffic shares must add up to 100 (or all be 0); {shares_text} adds up to "
            f"{total}", field="traffic")
    mirrored = {n: s for n, s in mirror.items() if s > 0}
    if len(mirrored) > 1:
        raise InvalidInputError(
            f"only one deployment can receive mirror traffic; got {', '.join(sorted(mirrored))}",
            field="mirror_traffic")
    for name, share in mirrored.items():
        if share > MAX_MIRROR_PERCENT:
            raise InvalidInputError(
                f"mirror traffic to '{name}' is {share}%; at most {MAX_MIRROR_PERCENT}% of "
                "requests can be mirrored", field=f"mirror_traffic.{name}")
        if traffic.get(name, 0) > 0:
            raise InvalidInputError(
                f"deployment '{name}' takes live traffic ({traffic[name]}%) and cannot also "
                "receive mirror traffic; set its live share to 0 first",
                field=f"mirror_traffic.{name}")


def parse_traffic(text: str, *, field: str = "traffic") -> dict[str, int]:
    """``"blue=90 green=10"`` (spaces or commas between pairs) as ``{"blue": 90, ...}``.

    Raises:
        InvalidInputError: a pair that is not ``name=percent``.
    """
    shares: dict[str, int] = {}
    for pair in re.split(r"[\s,]+", text.strip()):
        if not pair:
            continue
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise InvalidInputError(
                f"{pair!r} is not a traffic share; write deployment=percent, e.g. "
                "\"blue=90 green=10\"", field=field)
        shares[name.strip()] = int(value)
    return shares


class OnlineEndpointSpec(_Spec):
    """A managed online endpoint: a stable scoring address in front of deployments."""

    name: str
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    auth_mode: AuthMode = AuthMode.KEY
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    public_network_access: str = "enabled"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_endpoint_name(value)

    @field_validator("auth_mode", mode="before")
    @classmethod
    def _auth(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shares(self) -> OnlineEndpointSpec:
        check_traffic(self.traffic, self.mirror_traffic)
        return self


class RequestSettings(_Spec):
    """How a deployment takes requests (Azure's defaults)."""

    max_concurrent_requests_per_instance: int = Field(default=1, ge=1, le=1000)
    request_timeout_ms: int = Field(default=5000, ge=1, le=MAX_REQUEST_TIMEOUT_MS)
    max_queue_wait_ms: int = Field(default=500, ge=0)  # deprecated by Azure; kept for YAML round trips


class ProbeSettings(_Spec):
    """A liveness or readiness probe; times in seconds (Azure's defaults)."""

    initial_delay: int = Field(default=10, ge=0)
    period: int = Field(default=10, ge=1)
    timeout: int = Field(default=2, ge=1)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=30, ge=1)


class BatchingSettings(_Spec):
    """Dynamic batching (a Lakeworks extension): concurrent requests to one instance are
    scored in one model call of at most ``max_batch_size`` rows; an instance waits at most
    ``max_wait_ms`` for more requests when the batch is not full (0: never wait, take what
    is queued). ``enabled: false`` scores every request alone."""

    enabled: bool = True
    max_batch_size: int = Field(default=256, ge=1, le=1_000_000)
    max_wait_ms: float = Field(default=0.0, ge=0, le=1000)


class CollectionSpec(_Spec):
    """One data collection of a deployment (``model_inputs``, ``model_outputs``, ...)."""

    enabled: bool = True
    data: dict[str, str] | None = None  # {name, path, version}: the data asset it feeds
    client_id: str | None = None

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, value: Any) -> Any:
        # Azure's YAML writes 'True' / 'False' as strings
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value


class DataCollectorSpec(_Spec):
    """Which inputs and outputs a deployment writes to the lake, and how often."""

    collections: dict[str, CollectionSpec] = Field(default_factory=dict)
    sampling_rate: float = Field(default=1.0, gt=0, le=1)
    rolling_rate: str = "hour"
    request_logging: dict[str, Any] | None = None

    @field_validator("rolling_rate", mode="before")
    @classmethod
    def _rolling(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ROLLING_RATES:
            return value.strip().lower()
        raise ValueError(f"must be one of {', '.join(r.title() for r in ROLLING_RATES)}")

    @field_validator("collections")
    @classmethod
    def _names(cls, value: dict[str, CollectionSpec]) -> dict[str, CollectionSpec]:
        for name in value:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", name):
                raise ValueError(f"collection name {name!r} must be a letter then letters, "
                                 "digits or '_' (e.g. model_inputs)")
        return value

    @property
    def enabled(self) -> list[str]:
        """The names of the collections switched on."""
        return [name for name, spec in self.collections.items() if spec.enabled]


class CodeConfigurationSpec(_Spec):
    """A scoring script (``init()`` / ``run(raw_data)``) inside a code folder."""

    code: str
    scoring_script: str


class OnlineDeploymentSpec(_Spec):
    """A managed online deployment: a model and how it is served behind an endpoint.

    ``model`` and ``environment`` are references (``azureml:name:version``, ``name@latest``)
    or a local path; services resolve them. An MLflow model needs neither an environment nor
    a scoring script; a scoring script needs an environment to state its packages (without
    one it runs in Lakeworks' own Python).
    """

    name: str
    endpoint_name: str
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    code_configuration: CodeConfigurationSpec | None = None
    environment: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = Field(default=1, ge=1, le=64)
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    data_collector: DataCollectorSpec | None = None
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    app_insights_enabled: bool = False
    egress_public_network_access: str = "enabled"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_deployment_name(value)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint_name(value, field="endpoint_name")

    @model_validator(mode="after")
    def _scorable(self) -> OnlineDeploymentSpec:
        if self.model is None and self.code_configuration is None:
            raise InvalidInputError(
                "a deployment needs a model (an MLflow or ONNX model deploys without code) or "
                "a code_configuration with a scoring script", field="model")
        return self


def build_spec(cls: type[_Spec], data: dict[str, Any], *, source: str) -> Any:
    """``cls`` from a plain mapping, with pydantic's complaints turned into one clear error.

    Raises:
        InvalidInputError: the first bad field, named by its dotted path, with ``source``.
    """
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidInputError):
            raise InvalidInputError(cause.detail, file=source, field=cause.field,
                                    allowed=cause.allowed) from exc
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = (f"unknown field; {cls.__name__.removesuffix('Spec')} takes "
                       + ", ".join(sorted(cls.model_fields)))
        raise InvalidInputError(message, file=source, field=where or None) from exc


# -- what a serving process reads ---------------------------------------------------------------


class EndpointKeys(_Spec):
    """An endpoint's two keys and the secret its tokens are signed with."""

    primary: str
    secondary: str
    token_secret: str

    @classmethod
    def generate(cls) -> EndpointKeys:
        return cls(primary=secrets.token_urlsafe(32), secondary=secrets.token_urlsafe(32),
                   token_secret=secrets.token_urlsafe(32))

    def regenerate(self, key_type: str) -> EndpointKeys:
        """A copy with the ``primary`` or ``secondary`` key replaced.

        Raises:
            InvalidInputError: another key type.
        """
        if key_type not in ("primary", "secondary"):
            raise InvalidInputError(f"key type {key_type!r} is neither 'primary' nor "
                                    "'secondary'", field="key_type")
        return self.model_copy(update={key_type: secrets.token_urlsafe(32)})


#: How long an ``aml_token`` stays valid, and when a client should refresh it (seconds).
TOKEN_LIFETIME_S = 3600
TOKEN_REFRESH_S = 1800


def issue_token(endpoint: str, secret: str, *, now: float | None = None,
                lifetime_s: int = TOKEN_LIFETIME_S) -> tuple[str, float]:
    """A signed access token for ``endpoint`` and its expiry (Unix seconds)."""
    expiry = int((time.time() if now is None else now) + lifetime_s)
    body = base64.urlsafe_b64encode(json.dumps({"e": endpoint, "x": expiry}).encode()).decode()
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}", float(expiry)


def check_token(token: str, endpoint: str, secret: str, *, now: float | None = None) -> str | None:
    """``None`` if ``token`` is a valid, unexpired token of ``endpoint``, else why not."""
    body, _, signature = token.rpartition(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(signature, expected):
        return "the token is not valid for this endpoint"
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return "the token is not valid for this endpoint"
    if claims.get("e") != endpoint:
        return "the token was issued for another endpoint"
    if float(claims.get("x", 0)) < (time.time() if now is None else now):
        return "the token has expired; get a new one with get-credentials"
    return None


class EndpointRuntime(_Spec):
    """An endpoint as the serving process needs it: routing and credentials."""

    name: str
    auth_mode: AuthMode
    keys: EndpointKeys
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)


class DeploymentRuntime(_Spec):
    """A deployment resolved to files and settings on this machine.

    ``kind`` says how the worker scores: ``onnx`` (ONNX Runtime over ``onnx_path``),
    ``mlflow`` (MLflow's pyfunc over ``model_dir``) or ``script`` (the user's ``init()`` /
    ``run()`` in ``code_dir/scoring_script``, with ``AZUREML_MODEL_DIR`` set). ``python`` is
    the interpreter of the deployment's environment. ``fingerprint`` changes whenever
    anything a worker loads changes, so the server knows to replace its workers.
    """

    endpoint: str
    name: str
    kind: str  # "onnx" | "mlflow" | "script"
    model_name: str | None = None
    model_version: str | None = None
    model_dir: str | None = None  # AZUREML_MODEL_DIR
    model_path: str | None = None  # the MLflow folder or model file under model_dir
    onnx_path: str | None = None
    code_dir: str | None = None
    scoring_script: str | None = None
    python: str
    environment_variables: dict[str, str] = Field(default_factory=dict)
    instance_count: int = 1
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    collections: tuple[str, ...] = ()
    sampling_rate: float = 1.0
    collection_root: str | None = None  # local folder: <datastore>/modelDataCollector/<e>/<d>
    log_dir: str

    @property
    def fingerprint(self) -> str:
        """A hash of everything a worker is started from (not of routing or limits)."""
        loaded = self.model_dump(mode="json", exclude={"request_settings"})
        return hashlib.sha256(json.dumps(loaded, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def max_in_flight(self) -> int:
        """Requests admitted at once before 429 (Azure: twice the concurrency of all
        instances)."""
        return 2 * self.request_settings.max_concurrent_requests_per_instance * self.instance_count


class ServingState(_Spec):
    """Everything one serving process serves: endpoints and their deployments."""

    endpoints: tuple[EndpointRuntime, ...] = ()
    deployments: tuple[DeploymentRuntime, ...] = ()

    def deployments_of(self, endpoint: str) -> list[DeploymentRuntime]:
        return [d for d in self.deployments if d.endpoint == endpoint]
