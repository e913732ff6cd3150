"""The ``Tracking`` port over MLflow's REST API, with plain ``urllib`` JSON calls.

Owns the few calls the job runner and the sweep driver make (find or create an experiment,
create and end runs, read a run's metrics, params and metric history, log a batch). Never imports MLflow, so the runner stays light; scripts
inside jobs use whatever MLflow client they install. Failures become ``BackendError`` naming
the server URL and the endpoint. Given a ``reconnect`` callable, a server that went away
(idle timeout, restart) is replaced once and the call retried against its new URL.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from lakeworks.errors import BackendError, NotFoundError
from lakeworks.ports.tracking import RunStatus

API = "/api/2.0/mlflow"
PARENT_RUN_TAG = "mlflow.parentRunId"
_TERMINAL: frozenset[str] = frozenset({"FINISHED", "FAILED", "KILLED"})
# the server is on 127.0.0.1: never go through a proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MlflowRestTracking:
    """A client of one MLflow tracking server (``uri`` is what steps get as MLFLOW_TRACKING_URI).

    Args:
        uri: the server's base URL.
        timeout: seconds per request.
        reconnect: returns the URL of a (re)started server; called once when the server does
            not answer (connection refused or reset, or HTTP 503 while it shuts down).

    Example:
        >>> tracking = MlflowRestTracking("http://127.0.0.1:5000")  # doctest: +SKIP
        >>> run_id = tracking.create_run(tracking.ensure_experiment("demo"), "train")  # doctest: +SKIP
    """

    def __init__(
        self, uri: str, *, timeout: float = 30.0, reconnect: Callable[[], str] | None = None
    ) -> None:
        self.uri = uri.rstrip("/")
        self.timeout = timeout
        self.reconnect = reconnect

    def __repr__(self) -> str:
        return f"MlflowRestTracking({self.uri!r})"

    def _call(
        self, method: str, endpoint: str, body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            return self._request(method, endpoint, body, query)
        except _ServerGone:
            if self.reconnect is None:
                raise
            self.uri = self.reconnect().rstrip("/")
            return self._request(method, endpoint, body, query)

    def _request(
        self, method: str, endpoint: str, body: dict[str, Any] | None,
        query: dict[str, str] | None,
    ) -> dict[str, Any]:
        url = f"{self.uri}{API}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with _DIRECT.open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            if exc.code == 503:
                raise _ServerGone(
                    f"MLflow tracking server {self.uri}: {method} {API}/{endpoint} failed with "
                    f"HTTP 503: {detail[:200]}"
                ) from exc
            try:
                error = json.loads(detail)
            except ValueError:
                error = {"message": detail}
            code = error.get("error_code", "")
            message = (
                f"MLflow tracking server {self.uri}: {method} {API}/{endpoint} failed with "
                f"HTTP {exc.code} {code}: {error.get('message', detail)}"
            )
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError(message) from exc
            raise _RestError(message, code) from exc
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            kind = _ServerGone if isinstance(reason, ConnectionError) else BackendError
            raise kind(
                f"MLflow tracking server {self.uri}: {method} {API}/{endpoint} failed: {exc}; "
                "is the server running? (lakeworks restarts it on the next job)"
            ) from exc
        try:
            result: dict[str, Any] = json.loads(payload or b"{}")
        except ValueError as exc:
            raise BackendError(
                f"MLflow tracking server {self.uri}: {method} {API}/{endpoint} returned "
                f"something that is not JSON: {payload[:200]!r}"
            ) from exc
        return result

    def ensure_experiment(self, name: str) -> str:
        """Return the id of experiment ``name``, creating it if needed (safe under races)."""
        for _ in range(2):
            try:
                found = self._call("GET", "experiments/get-by-name", query={"experiment_name": name})
                return str(found["experiment"]["experiment_id"])
            except NotFoundError:
                pass
            try:
                return str(self._call("POST", "experiments/create", {"name": name})["experiment_id"])
            except _RestError as exc:
                if exc.mlflow_code != "RESOURCE_ALREADY_EXISTS":
                    raise
        raise BackendError(f"MLflow tracking server {self.uri}: experiment {name!r} vanished")

    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        *,
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create a RUNNING run and return its id."""
        all_tags = {"mlflow.runName": run_name, **(tags or {})}
        if parent_run_id:
            all_tags[PARENT_RUN_TAG] = parent_run_id
        body = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in all_tags.items()],
        }
        return str(self._call("POST", "runs/create", body)["run"]["info"]["run_id"])

    def end_run(self, run_id: str, status: RunStatus) -> None:
        """Mark a run terminated with ``status``."""
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id, "status": status}
        if status in _TERMINAL:
            body["end_time"] = int(time.time() * 1000)
        self._call("POST", "runs/update", body)

    def run_data(self, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
        """The latest value of each metric, and the params, of a run."""
        data = self._call("GET", "runs/get", query={"run_id": run_id})["run"].get("data", {})
        metrics = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
        params = {p["key"]: str(p["value"]) for p in data.get("params", [])}
        return metrics, params

    def metric_history(self, run_id: str, key: str) -> list[float]:
        """Every value of metric ``key`` of a run, in the order it was logged."""
        points: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query = {"run_id": run_id, "metric_key": key}
            if token:
                query["page_token"] = token
            page = self._call("GET", "metrics/get-history", query=query)
            points += page.get("metrics", [])
            token = page.get("next_page_token")
            if not token:
                break
        points.sort(key=lambda m: (int(m.get("timestamp", 0)), int(m.get("step", 0))))
        return [float(m["value"]) for m in points]

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Record metrics (one value each, now), params and tags on a run."""
        now = int(time.time() * 1000)
        body = {
            "run_id": run_id,
            "metrics": [{"key": k, "value": v, "timestamp": now, "step": 0}
                        for k, v in (metrics or {}).items()],
            "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        self._call("POST", "runs/log-batch", body)


class _RestError(BackendError):
    """An MLflow REST error with its MLflow error code (e.g. ``RESOURCE_ALREADY_EXISTS``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.mlflow_code = code


class _ServerGone(BackendError):
    """The server did not answer: refused, reset, or shutting down."""
