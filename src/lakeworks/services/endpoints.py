"""Online endpoints and deployments, the use cases: create, update, delete, keys, logs, invoke.

Owns what happens when a user creates or changes an endpoint or a deployment: keys generated
once and kept sealed (encrypted with the user's key, as datastore credentials are); traffic
checked against the endpoint's deployments; a deployment's model reference resolved and pinned
to one version as Azure does (``azureml:m@latest`` -> ``azureml:m:3``; a local path registers
an anonymous model), how it is scored (``onnx`` when its files hold an ONNX graph, ``mlflow``
for an MLflow folder without one, ``script`` with a ``code_configuration`` whose folder is
snapshotted into the workspace), its environment built through role ``environments`` (none: this
Python); the serving process told to reload and waited on; deleting refused while a deployment
takes live traffic. Also ``serving_state`` (what the serving process serves, read at its start
and on every reload), ``invoke`` (a POST with the standard library, the raw text back),
``get_logs`` and ``register_collected_tables`` (collected inputs and outputs as lake tables).
Serving itself is ``lakeworks.serving``'s business; finding and starting it is
``services.serving_process``'s.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakeworks.core.assets import EnvironmentSpec, ModelType
from lakeworks.core.endpoints import (
    DEPLOYMENT_HEADER,
    MAX_REQUEST_TIMEOUT_MS,
    TOKEN_REFRESH_S,
    AuthMode,
    CodeConfigurationSpec,
    DeploymentRuntime,
    EndpointKeys,
    EndpointRuntime,
    OnlineDeploymentSpec,
    OnlineEndpointSpec,
    ServingState,
    build_spec,
    check_traffic,
    issue_token,
)
from lakeworks.core.environments import EnvironmentPlan, curated_plan
from lakeworks.core.refs import DEFAULT_DATASTORE, AssetKind, datastore_uri
from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
    StateError,
)
from lakeworks.ports.metadata import DeploymentRecord, EndpointRecord, EndpointRepo
from lakeworks.ports.secrets import SecretBox
from lakeworks.services import adapter_registry, serving_process
from lakeworks.services.assets import AssetService, is_uri
from lakeworks.services.scoring import MLMODEL_FILE, ScoringModel, find_onnx, resolve_model
from lakeworks.services.workspace import Workspace

CONTAINER_TYPES = ("inference-server", "storage-initializer")
COLLECTOR_FOLDER = "modelDataCollector"
_KEY_FIELDS = ("primary", "secondary", "token_secret")


def _now() -> datetime:
    return datetime.now(UTC)


def _box() -> SecretBox:
    box: SecretBox = adapter_registry.load("secrets")()
    return box


def seal_keys(keys: EndpointKeys) -> dict[str, str]:
    """An endpoint's keys encrypted with the user's key, by field."""
    box = _box()
    return {f: box.encrypt(getattr(keys, f)) for f in _KEY_FIELDS}


def open_keys(record: EndpointRecord) -> EndpointKeys:
    """An endpoint's keys in plain text.

    Raises:
        InvalidInputError: they were sealed with another user's key.
    """
    box = _box()
    return EndpointKeys(**{f: box.decrypt(record.sealed_keys[f]) for f in _KEY_FIELDS})


@dataclass(frozen=True)
class AccessToken:
    """An ``aml_token`` and when it expires and should be refreshed (UTC)."""

    access_token: str
    expiry_time_utc: datetime
    refresh_after_time_utc: datetime
    token_type: str = "Bearer"


class _InitLog:
    """Appends timestamped lines to a deployment's ``storage-initializer.log``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def __call__(self, line: str) -> None:
        stamp = _now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")


@dataclass(frozen=True)
class _Model:
    """A deployment's model, resolved: its pinned reference and its files."""

    ref: str
    model: ScoringModel


class EndpointService:
    """The online endpoint use cases of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    @property
    def repo(self) -> EndpointRepo:
        return self.ws.metadata.endpoints

    # -- endpoints -------------------------------------------------------------------------

    def _find_endpoint(self, name: str) -> EndpointRecord | None:
        try:
            return self.repo.get_endpoint(name)
        except NotFoundError:
            return None

    def create_or_update_endpoint(
        self, spec: OnlineEndpointSpec, *, keep_traffic: bool = False, notify: bool = True
    ) -> EndpointRecord:
        """Create an endpoint (keys generated now) or update it (keys kept).

        Args:
            spec: the endpoint.
            keep_traffic: keep the stored traffic and mirror traffic (the caller gave none).
            notify: tell the serving process (starting it when none runs).

        Raises:
            InvalidInputError: traffic naming a deployment the endpoint does not have.
        """
        existing = self._find_endpoint(spec.name)
        if existing is not None and keep_traffic:
            spec = spec.model_copy(update={"traffic": existing.spec.traffic,
                                           "mirror_traffic": existing.spec.mirror_traffic})
        names = {d.name for d in self.repo.list_deployments(spec.name)} if existing else set()
        check_traffic(spec.traffic, spec.mirror_traffic, names)
        now = _now()
        record = EndpointRecord(
            name=spec.name, spec=spec,
            sealed_keys=existing.sealed_keys if existing else seal_keys(EndpointKeys.generate()),
            provisioning_state="Succeeded",
            created_at=existing.created_at if existing else now, updated_at=now)
        self.repo.put_endpoint(record, replace=existing is not None)
        if notify:
            serving_process.reload(self.ws)
        return record

    def update_traffic(self, name: str, *, traffic: dict[str, int] | None = None,
                       mirror_traffic: dict[str, int] | None = None) -> EndpointRecord:
        """Replace an endpoint's traffic and/or mirror traffic (``online-endpoint update``)."""
        current = self.repo.get_endpoint(name).spec
        update: dict[str, Any] = {}
        if traffic is not None:
            update["traffic"] = traffic
        if mirror_traffic is not None:
            update["mirror_traffic"] = mirror_traffic
        data = current.model_dump()
        data.update(update)
        spec: OnlineEndpointSpec = build_spec(OnlineEndpointSpec, data,
                                              source=f"online endpoint '{name}'")
        return self.create_or_update_endpoint(spec)

    def get_endpoint(self, name: str) -> EndpointRecord:
        return self.repo.get_endpoint(name)

    def list_endpoints(self) -> list[EndpointRecord]:
        return self.repo.list_endpoints()

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint and its deployments; the serving process stops serving them."""
        self.repo.delete_endpoint(name)
        serving_process.reload(self.ws, start=False)

    def scoring_uri(self, name: str) -> str | None:
        """``http://host:port/endpoints/<name>/score`` of the running server, or None."""
        info = serving_process.find_server(self.ws)
        return None if info is None else f"{info.url}/endpoints/{name}/score"

    # -- keys and tokens -------------------------------------------------------------------

    def get_keys(self, name: str) -> EndpointKeys:
        return open_keys(self.repo.get_endpoint(name))

    def regenerate_keys(self, name: str, key_type: str = "primary") -> EndpointRecord:
        """Replace the primary or secondary key; the old one stops working at once.

        Raises:
            InvalidInputError: an endpoint without key auth, or another key type.
        """
        record = self.repo.get_endpoint(name)
        if record.spec.auth_mode is not AuthMode.KEY:
            raise InvalidInputError(
                f"endpoint '{name}' uses auth_mode '{record.spec.auth_mode.value}'; keys can be "
                "regenerated only for auth_mode 'key'", field="key_type")
        keys = open_keys(record).regenerate(key_type)
        updated = record.model_copy(update={"sealed_keys": seal_keys(keys),
                                            "updated_at": _now()})
        self.repo.put_endpoint(updated, replace=True)
        serving_process.reload(self.ws, start=False)
        return updated

    def get_token(self, name: str) -> AccessToken:
        """An ``aml_token`` for the endpoint, with its expiry and refresh time."""
        keys = self.get_keys(name)
        token, expiry = issue_token(name, keys.token_secret)
        expires = datetime.fromtimestamp(expiry, UTC)
        refresh = datetime.fromtimestamp(_now().timestamp() + TOKEN_REFRESH_S, UTC)
        return AccessToken(token, expires, min(refresh, expires))

    def credential(self, name: str) -> str:
        """What ``Authorization: Bearer`` carries for the endpoint: its primary key, or a
        token for ``aml_token`` endpoints."""
        record = self.repo.get_endpoint(name)
        if record.spec.auth_mode is AuthMode.KEY:
            return open_keys(record).primary
        return self.get_token(name).access_token

    # -- deployments -----------------------------------------------------------------------

    def _find_deployment(self, endpoint: str, name: str) -> DeploymentRecord | None:
        try:
            return self.repo.get_deployment(endpoint, name)
        except NotFoundError:
            return None

    def create_or_update_deployment(
        self,
        spec: OnlineDeploymentSpec,
        *,
        all_traffic: bool = False,
        base_dir: Path | None = None,
        wait: bool = True,
        timeout: float = serving_process.DEPLOY_TIMEOUT_S,
    ) -> DeploymentRecord:
        """Create or update a deployment, serve it, and wait until it is ready.

        Args:
            spec: the deployment; local paths (model, code) are relative to ``base_dir``.
            all_traffic: give it 100 % of the endpoint's traffic once it is ready.
            base_dir: the folder relative paths start from (default: the current folder).
            wait: wait for the serving process to report it ``Succeeded``.
            timeout: how long to wait, in seconds.

        Raises:
            NotFoundError: the endpoint, model, environment or code folder does not exist.
            InvalidInputError: a model that cannot be served without a scoring script, or a
                scoring script that is not in the code folder.
            BackendError: the deployment failed to start (the error and log tail).
        """
        endpoint = self.repo.get_endpoint(spec.endpoint_name)
        existing = self._find_deployment(spec.endpoint_name, spec.name)
        base = (base_dir or Path.cwd()).resolve()
        log = _InitLog(self._log_dir(spec.endpoint_name, spec.name) / "storage-initializer.log")
        log(f"deployment '{spec.name}' of endpoint '{spec.endpoint_name}': resolving")
        record = self._resolve(spec, base, log, existing)
        self.repo.put_deployment(record, replace=existing is not None)
        log(f"resolved: kind {record.kind}, model {record.model_name}:{record.model_version}, "
            f"python {record.python}")
        if not wait:
            serving_process.reload(self.ws, wait=False)
            self._after_deploy(endpoint, record, all_traffic)
            return record
        serving_process.reload(self.ws, wait=False)
        try:
            serving_process.wait_for_deployment(
                self.ws, spec.endpoint_name, spec.name,
                fingerprint=self.runtime(record).fingerprint, timeout=timeout)
        except BackendError as exc:
            log(f"failed: {exc}")
            self.repo.put_deployment(record.model_copy(update={
                "state": "Failed", "error": str(exc), "updated_at": _now()}), replace=True)
            raise
        done = record.model_copy(update={"state": "Succeeded", "error": None,
                                         "updated_at": _now()})
        self.repo.put_deployment(done, replace=True)
        self._after_deploy(endpoint, done, all_traffic)
        return done

    def _after_deploy(self, endpoint: EndpointRecord, record: DeploymentRecord,
                      all_traffic: bool) -> None:
        if not all_traffic:
            return
        names = {d.name for d in self.repo.list_deployments(endpoint.name)}
        traffic = {n: (100 if n == record.name else 0) for n in sorted(names)}
        mirror = {n: s for n, s in endpoint.spec.mirror_traffic.items() if n != record.name}
        self.update_traffic(endpoint.name, traffic=traffic, mirror_traffic=mirror)

    def _resolve(self, spec: OnlineDeploymentSpec, base: Path, log: Callable[[str], None],
                 existing: DeploymentRecord | None) -> DeploymentRecord:
        model = self._resolve_model(spec, base, log) if spec.model else None
        update: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        if model is not None:
            update["model"] = model.ref
            folder = model.model.path
            fields.update(model_name=model.model.name, model_version=model.model.version,
                          model_dir=str(folder.parent), model_path=str(folder))
        if spec.code_configuration is not None:
            code_uri, code_dir = self._snapshot_code(spec.code_configuration, base, log)
            update["code_configuration"] = CodeConfigurationSpec(
                code=code_uri, scoring_script=spec.code_configuration.scoring_script)
            fields.update(kind="script", code_uri=code_uri, code_dir=str(code_dir))
        elif model is not None:
            fields.update(kind=_model_kind(model.model, spec))
            if fields["kind"] == "onnx":
                fields["onnx_path"] = str(model.model.onnx)
        python = sys.executable
        if spec.environment:
            env_ref, python = self._build_environment(spec.environment, log)
            update["environment"] = env_ref
        now = _now()
        return DeploymentRecord(
            endpoint=spec.endpoint_name, name=spec.name, spec=spec.model_copy(update=update),
            python=python, state="Creating",
            created_at=existing.created_at if existing else now, updated_at=now, **fields)

    def _resolve_model(self, spec: OnlineDeploymentSpec, base: Path,
                       log: Callable[[str], None]) -> _Model:
        reference = str(spec.model)
        local = None if reference.startswith("azureml:") or is_uri(reference) else (
            base / reference)
        if local is not None and local.exists():
            name = f"{spec.endpoint_name}-{spec.name}-model"
            kind = ModelType.MLFLOW if (local / MLMODEL_FILE).is_file() else ModelType.CUSTOM
            stored = AssetService(self.ws).register_model_files(name, local, type=kind)
            log(f"model: registered local path '{local}' as anonymous model "
                f"{stored.name}:{stored.version}")
            reference = f"{stored.name}:{stored.version}"
        try:
            found = resolve_model(self.ws, reference)
        except NotFoundError as exc:
            raise NotFoundError(f"deployment '{spec.name}': field 'model': {exc}") from None
        except InvalidInputError as exc:
            raise InvalidInputError(f"deployment '{spec.name}': {exc.detail}",
                                    field="model") from None
        log(f"model: {reference} -> {found.name}:{found.version} at {found.path}")
        return _Model(f"azureml:{found.name}:{found.version}", found)

    def _snapshot_code(self, code: CodeConfigurationSpec, base: Path,
                       log: Callable[[str], None]) -> tuple[str, Path]:
        assets = AssetService(self.ws)
        if is_uri(code.code):
            uri = code.code
        else:
            folder = (base / code.code).resolve()
            if not folder.is_dir():
                raise NotFoundError(
                    f"code_configuration.code: folder '{folder}' does not exist; give the folder "
                    "holding the scoring script (relative to the deployment YAML)")
            uri, _ = assets.snapshot_code(folder)
            log(f"code: snapshotted '{folder}' as {uri}")
        local = assets.local_copy(uri)
        if not (local / code.scoring_script).is_file():
            present = sorted(p.name for p in local.iterdir() if p.is_file())[:10]
            raise InvalidInputError(
                f"scoring script '{code.scoring_script}' is not in the code folder ({code.code}; "
                f"files: {', '.join(present) or 'none'}); it must define init() and "
                "run(raw_data)", field="code_configuration.scoring_script")
        return uri, local

    def _build_environment(self, reference: str,
                           log: Callable[[str], None]) -> tuple[str, str]:
        from lakeworks.services.steps import plan_for_environment  # the plan jobs build from

        assets = AssetService(self.ws)
        plan: EnvironmentPlan | None = curated_plan(reference)
        pinned = reference
        if plan is None:
            try:
                stored = assets.resolve(reference, AssetKind.ENVIRONMENT)
            except (NotFoundError, InvalidInputError) as exc:
                raise NotFoundError(f"field 'environment': {exc}") from None
            env = stored.to_spec()
            assert isinstance(env, EnvironmentSpec)
            plan = plan_for_environment(env, assets)
            pinned = f"azureml:{stored.name}:{stored.version}"
        for note in plan.notes:
            log(f"environment: {note}")
        built = self.ws.environment_builder().build(plan, log=lambda line: log(
            f"environment: {line}"))
        log(f"environment: {pinned} ready ({built.python})")
        return pinned, str(built.python)

    def get_deployment(self, endpoint: str, name: str) -> DeploymentRecord:
        return self.repo.get_deployment(endpoint, name)

    def runtime(self, record: DeploymentRecord) -> DeploymentRuntime:
        """A stored deployment as the serving process runs it."""
        return runtime_of(self.ws, record)

    def list_deployments(self, endpoint: str) -> list[DeploymentRecord]:
        self.repo.get_endpoint(endpoint)
        return self.repo.list_deployments(endpoint)

    def update_deployment(self, endpoint: str, name: str, changes: dict[str, Any], *,
                          wait: bool = True) -> DeploymentRecord:
        """Apply field changes (``instance_count``, ``request_settings``...) to a stored
        deployment and serve it again; the model and code stay pinned as stored."""
        current = self.repo.get_deployment(endpoint, name)
        data = current.spec.model_dump(mode="json")
        data.update(changes)
        spec: OnlineDeploymentSpec = build_spec(OnlineDeploymentSpec, data,
                                                source=f"deployment '{name}'")
        return self.create_or_update_deployment(spec, wait=wait)

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Delete a deployment that takes no live traffic; the server stops serving it.

        Raises:
            StateError: it still takes live or mirror traffic (the message says how to move
                it).
        """
        record = self.repo.get_endpoint(endpoint)
        self.repo.get_deployment(endpoint, name)
        live = record.spec.traffic.get(name, 0)
        mirror = record.spec.mirror_traffic.get(name, 0)
        if live > 0 or mirror > 0:
            others = [n for n in record.spec.traffic if n != name]
            example = f"{others[0]}=100" if others else "<other deployment>=100"
            kind, share = ("live", live) if live > 0 else ("mirror", mirror)
            flag = "--traffic" if live > 0 else "--mirror-traffic"
            fix = (f'`lakeworks online-endpoint update -n {endpoint} --traffic "{example}"`'
                   if live > 0 else
                   f'`lakeworks online-endpoint update -n {endpoint} {flag} "{name}=0"`')
            raise StateError(
                f"deployment '{name}' of endpoint '{endpoint}' takes {share}% of the {kind} "
                f"traffic; move its traffic to other deployments first ({fix}), then delete it")
        traffic = {n: s for n, s in record.spec.traffic.items() if n != name}
        mirror_traffic = {n: s for n, s in record.spec.mirror_traffic.items() if n != name}
        if traffic != record.spec.traffic or mirror_traffic != record.spec.mirror_traffic:
            spec = record.spec.model_copy(update={"traffic": traffic,
                                                  "mirror_traffic": mirror_traffic})
            self.repo.put_endpoint(record.model_copy(update={"spec": spec,
                                                             "updated_at": _now()}),
                                   replace=True)
        self.repo.delete_deployment(endpoint, name)
        serving_process.reload(self.ws, start=False)

    # -- logs and invocation ---------------------------------------------------------------

    def _log_dir(self, endpoint: str, deployment: str) -> Path:
        return serving_process.deployment_log_dir(self.ws, endpoint, deployment)

    def get_logs(self, endpoint: str, deployment: str, lines: int = 5000,
                 container_type: str | None = None) -> str:
        """The last ``lines`` lines of a deployment's ``inference-server`` (default) or
        ``storage-initializer`` log.

        Raises:
            InvalidInputError: another container type, or ``lines`` below 1.
        """
        kind = container_type or "inference-server"
        if kind not in CONTAINER_TYPES:
            raise InvalidInputError(f"container type {kind!r} is not known",
                                    field="container_type", allowed=CONTAINER_TYPES)
        if not isinstance(lines, int) or lines < 1:
            raise InvalidInputError(f"lines must be a whole number of at least 1, not {lines!r}",
                                    field="lines")
        self.repo.get_deployment(endpoint, deployment)
        path = self._log_dir(endpoint, deployment) / f"{kind}.log"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def invoke(self, endpoint: str, *, request_file: str | Path | None = None,
               input_data: Any = None, deployment_name: str | None = None) -> str:
        """POST a request to the endpoint's scoring URI and return the response text.

        Args:
            endpoint: the endpoint's name.
            request_file: a JSON file sent as the body.
            input_data: the body instead: a string as is, anything else as JSON.
            deployment_name: send to this deployment (header ``azureml-model-deployment``).

        Raises:
            InvalidInputError: no body given, or the server answered 4xx (``status`` and
                ``body`` attributes hold its answer).
            BackendError: the server answered 5xx (same attributes) or cannot be reached.
        """
        record = self.repo.get_endpoint(endpoint)
        if deployment_name is not None:
            self.repo.get_deployment(endpoint, deployment_name)
        body = _request_body(request_file, input_data)
        info = serving_process.ensure_server(self.ws)
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Bearer {self.credential(record.name)}"}
        if deployment_name:
            headers[DEPLOYMENT_HEADER] = deployment_name
        url = f"{info.url}/endpoints/{endpoint}/score"
        return post(url, body, headers, what=f"endpoint '{endpoint}'")


def post(url: str, body: bytes, headers: dict[str, str], *, what: str,
         timeout: float = MAX_REQUEST_TIMEOUT_MS / 1000 + 10) -> str:
    """POST ``body``; the response text, or the error the status calls for."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        error: LakeworksError
        if exc.code < 500:
            error = InvalidInputError(f"{what} answered {exc.code}: {text}")
        else:
            error = BackendError(f"{what} answered {exc.code}: {text}")
        error.__dict__.update(status=exc.code, body=text)
        raise error from None
    except OSError as exc:
        raise BackendError(f"cannot reach {what} at {url}: {exc}") from exc


def _request_body(request_file: str | Path | None, input_data: Any) -> bytes:
    if request_file is not None:
        path = Path(request_file).expanduser()
        if not path.is_file():
            raise NotFoundError(f"request file '{path}' does not exist")
        raw = path.read_bytes()
        try:
            json.loads(raw)
        except ValueError as exc:
            raise InvalidInputError(f"request file '{path}' is not valid JSON: {exc}",
                                    field="request_file") from None
        return raw
    if input_data is None:
        raise InvalidInputError("give request_file (a JSON file) or input_data to invoke an "
                                "endpoint", field="request_file")
    if isinstance(input_data, bytes):
        return input_data
    if isinstance(input_data, str):
        return input_data.encode()
    return json.dumps(input_data).encode()


def _model_kind(model: ScoringModel, spec: OnlineDeploymentSpec) -> str:
    if find_onnx(model.path) is not None:
        return "onnx"
    if model.is_mlflow:
        return "mlflow"
    raise InvalidInputError(
        f"deployment '{spec.name}': model '{model.ref}' is neither an MLflow model nor an ONNX "
        "graph, so it cannot be deployed without code; add a code_configuration with a scoring "
        "script (init() and run(raw_data)) and an environment", field="model")


# -- what the serving process reads ----------------------------------------------------------


def _collection_root(ws: Workspace, endpoint: str, deployment: str) -> str | None:
    local = ws.artifacts.local_path(f"{COLLECTOR_FOLDER}/{endpoint}/{deployment}")
    return None if local is None else str(local)


def runtime_of(ws: Workspace, record: DeploymentRecord) -> DeploymentRuntime:
    """A stored deployment as the serving process runs it."""
    spec = record.spec
    collector = spec.data_collector
    collections = tuple(collector.enabled) if collector else ()
    return DeploymentRuntime(
        endpoint=record.endpoint, name=record.name, kind=record.kind,
        model_name=record.model_name, model_version=record.model_version,
        model_dir=record.model_dir, model_path=record.model_path, onnx_path=record.onnx_path,
        code_dir=record.code_dir,
        scoring_script=spec.code_configuration.scoring_script if spec.code_configuration else None,
        python=record.python, environment_variables=dict(spec.environment_variables),
        instance_count=spec.instance_count, request_settings=spec.request_settings,
        liveness_probe=spec.liveness_probe, readiness_probe=spec.readiness_probe,
        batching=spec.batching, collections=collections,
        sampling_rate=collector.sampling_rate if collector else 1.0,
        collection_root=_collection_root(ws, record.endpoint, record.name) if collections
        else None,
        log_dir=str(serving_process.deployment_log_dir(ws, record.endpoint, record.name)))


def serving_state(ws: Workspace) -> ServingState:
    """Every endpoint (with its keys in plain text) and deployment of the workspace."""
    repo = ws.metadata.endpoints
    endpoints = tuple(
        EndpointRuntime(name=e.name, auth_mode=e.spec.auth_mode, keys=open_keys(e),
                        traffic=dict(e.spec.traffic), mirror_traffic=dict(e.spec.mirror_traffic))
        for e in repo.list_endpoints())
    deployments = tuple(runtime_of(ws, d) for d in repo.list_deployments())
    return ServingState(endpoints=endpoints, deployments=deployments)


def collected_table_name(endpoint: str, deployment: str, collection: str) -> str:
    """``default.<endpoint>_<deployment>_<collection>``, '-' written '_', lower case."""
    return f"default.{endpoint}_{deployment}_{collection}".replace("-", "_").lower()


def register_collected_tables(ws: Workspace) -> list[str]:
    """Register each collection with data (a ``_delta_log``) as a lake table; their names."""
    from lakeworks.services.lake import LakeService  # the lake is heavy; only when asked

    lake: LakeService | None = None
    names: list[str] = []
    for record in ws.metadata.endpoints.list_deployments():
        collector = record.spec.data_collector
        root = _collection_root(ws, record.endpoint, record.name)
        if collector is None or root is None:
            continue
        for collection in collector.enabled:
            if not (Path(root) / collection / "_delta_log").is_dir():
                continue
            lake = lake or LakeService(ws)
            name = collected_table_name(record.endpoint, record.name, collection)
            uri = datastore_uri(f"{COLLECTOR_FOLDER}/{record.endpoint}/{record.name}/"
                                f"{collection}", DEFAULT_DATASTORE)
            lake.register_external(name, uri, description=(
                f"{collection} collected by deployment '{record.name}' of endpoint "
                f"'{record.endpoint}'"), created_by="data collector")
            names.append(name)
    return names


__all__ = [
    "CONTAINER_TYPES",
    "AccessToken",
    "EndpointService",
    "collected_table_name",
    "open_keys",
    "post",
    "register_collected_tables",
    "runtime_of",
    "seal_keys",
    "serving_state",
]
