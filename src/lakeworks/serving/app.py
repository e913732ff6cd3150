"""The serving front's ASGI application: every HTTP route of the online endpoints.

Owns the request path of the front process: routing by path (Azure ``/score``, MLflow
``/invocations`` and probes, Open Inference V2, OpenAPI documents, health, ``/metrics`` and the
admin routes), key and token auth, the traffic split and the ``azureml-model-deployment``
header, mirror copies, admission (429), body limits (413), timeouts (408), worker errors (424
on Azure's protocol), request ids, metrics and the buffered JSON-lines access log. It is a plain
ASGI callable routed by hand with pre-encoded headers: this is the hot path. It starts no
processes (``lakeworks.serving.pool``) and opens no workspace (``lakeworks.serving.server``);
the routing tables and their auth are ``lakeworks.serving.routes``, the access log
``lakeworks.serving.access_log``.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.metadata
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import orjson

from lakeworks.core.endpoints import ServingState
from lakeworks.serving import wire
from lakeworks.serving.access_log import AccessLog
from lakeworks.serving.metrics import CONTENT_TYPE as METRICS_TYPE
from lakeworks.serving.metrics import ServingMetrics
from lakeworks.serving.openapi import build_document
from lakeworks.serving.pool import Failure
from lakeworks.serving.routes import EndpointRoute, build_routes
from lakeworks.serving.supervisor import Deployment

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_PREFIX = "/endpoints/"
_MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST",
                 405: "BAD_REQUEST", 408: "DEADLINE_EXCEEDED", 413: "REQUEST_LIMIT_EXCEEDED",
                 429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE"}
_MAX_REQUEST_ID = 128
_PROTOCOL_LABEL = {wire.Protocol.AZURE: "azure", wire.Protocol.MLFLOW: "mlflow",
                   wire.Protocol.V2: "v2"}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Admin(Protocol):
    """What the admin routes ask the server."""

    async def reload(self, wait: bool) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...

    def ready(self) -> bool: ...


def _new_request_id() -> str:
    """A random (version 4) UUID as 32 hex digits, without ``uuid.UUID``'s overhead."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


class _Call:
    """What the access log and the metrics need about one request."""

    __slots__ = ("bytes_in", "deployment", "endpoint", "method", "path", "protocol",
                 "request_id", "rid_bytes", "start")

    def __init__(self, scope: Scope, request_id: bytes | None) -> None:
        self.start = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.endpoint = ""
        self.deployment = ""
        self.protocol = ""
        self.bytes_in = 0
        rid = request_id.decode("latin-1") if request_id else ""
        if not rid or len(rid) > _MAX_REQUEST_ID or not rid.isascii() or not rid.isprintable():
            rid = _new_request_id()
        self.request_id = rid
        self.rid_bytes = rid.encode()


class ServingApp:
    """The ASGI application of the front process."""

    def __init__(self, *, metrics: ServingMetrics, access_log: AccessLog, max_body: int,
                 admin_token: str, admin: Admin | None = None) -> None:
        self.metrics = metrics
        self.access_log = access_log
        self.max_body = max_body
        self.admin_token = admin_token.encode()
        self.admin = admin
        self.routes: dict[str, EndpointRoute] = {}
        self._mirrors: set[asyncio.Task[Any]] = set()
        self._mlflow_version = _version("mlflow").encode()

    def publish(self, state: ServingState,
                deployments: dict[tuple[str, str], Deployment]) -> None:
        """Switch to the routes of ``state`` (one assignment: requests see old or new)."""
        self.routes = build_routes(state, deployments)

    # -- responses ------------------------------------------------------------------------------

    async def _send(self, send: Send, call: _Call, status: int, body: bytes,
                    content_type: bytes = _JSON,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                   (b"x-request-id", call.rid_bytes), (b"x-ms-request-id", call.rid_bytes)]
        if call.deployment:
            headers.append((b"azureml-model-deployment", call.deployment.encode()))
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        seconds = time.perf_counter() - call.start
        if call.endpoint:
            self.metrics.observe_request(call.endpoint, call.deployment, call.protocol or "http",
                                         status, seconds)
        self.access_log.write({
            "request_id": call.request_id, "method": call.method, "path": call.path,
            "endpoint": call.endpoint or None, "deployment": call.deployment or None,
            "status": status, "ms": round(seconds * 1000, 3), "bytes_in": call.bytes_in,
            "bytes_out": len(body)})

    async def _error(self, send: Send, call: _Call, status: int, message: str,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
        if call.protocol == "mlflow":
            body = orjson.dumps({"error_code": _MLFLOW_CODES.get(status, "INTERNAL_ERROR"),
                                 "message": message})
        else:
            body = orjson.dumps({"error": message})
        await self._send(send, call, status, body, _JSON, extra)

    # -- entry ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers[name] = value
        call = _Call(scope, headers.get(b"x-request-id"))
        if path.startswith(_PREFIX):
            await self._endpoint(scope, receive, send, call, headers, path[len(_PREFIX):])
        elif path == "/":
            await self._send(send, call, 200, b"Healthy", _TEXT)
        elif path == "/metrics":
            await self._send(send, call, 200, self.metrics.render(), METRICS_TYPE.encode())
        elif path.startswith("/-/"):
            await self._admin(scope, send, call, headers, path[3:])
        else:
            await self._error(send, call, 404, f"no route {path!r}; endpoints are served under "
                              "/endpoints/<endpoint>/ (score, invocations, v2, swagger.json)")

    async def _admin(self, scope: Scope, send: Send, call: _Call, headers: dict[bytes, bytes],
                     route: str) -> None:
        admin = self.admin
        if route == "live":
            await self._send(send, call, 200, b'{"live":true}')
            return
        if route == "ready":
            ready = admin.ready() if admin else True
            await self._send(send, call, 200 if ready else 503, orjson.dumps({"ready": ready}))
            return
        if route not in ("reload", "status") or admin is None:
            await self._error(send, call, 404, f"no admin route '/-/{route}' (live, ready, "
                              "reload, status)")
            return
        given = headers.get(b"authorization", b"")
        if not hmac.compare_digest(given, b"Bearer " + self.admin_token):
            await self._error(send, call, 401, "admin routes need 'Authorization: Bearer <admin "
                              "token>' (admin_token in .lakeworks/serving/server.json)",
                              [(b"www-authenticate", b"Bearer")])
            return
        if route == "status":
            await self._send(send, call, 200, orjson.dumps(admin.status()))
            return
        if scope["method"] != "POST":
            await self._error(send, call, 405, "use POST /-/reload", [(b"allow", b"POST")])
            return
        wait = b"wait=true" in scope.get("query_string", b"") or \
            b"wait=1" in scope.get("query_string", b"")
        try:
            result = await admin.reload(wait)
        except Exception as exc:  # a broken state must not take the server down
            log.exception("reload failed")
            await self._error(send, call, 500, f"reload failed: {exc}")
            return
        await self._send(send, call, 200, orjson.dumps(result))

    # -- endpoints -----------------------------------------------------------------------------

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send, call: _Call,
                        headers: dict[bytes, bytes], rest: str) -> None:
        name, _, sub = rest.partition("/")
        route = self.routes.get(name)
        call.endpoint = name
        if route is None:
            call.endpoint = ""
            known = ", ".join(sorted(self.routes)) or "none"
            await self._error(send, call, 404, f"endpoint '{name}' does not exist on this "
                              f"server (endpoints: {known})")
            return
        method = scope["method"]
        if sub == "score" or sub == "invocations":
            protocol = wire.Protocol.AZURE if sub == "score" else wire.Protocol.MLFLOW
            call.protocol = _PROTOCOL_LABEL[protocol]
            if method != "POST":
                await self._error(send, call, 405, f"use POST /endpoints/{name}/{sub}",
                                  [(b"allow", b"POST")])
                return
            await self._score(receive, send, call, headers, route, protocol, None)
        elif sub.startswith("v2"):
            call.protocol = "v2"
            await self._v2(scope, receive, send, call, headers, route, sub)
        elif sub == "":
            call.protocol = "health"
            await self._send(send, call, 200, b"Healthy", _TEXT)
        elif sub in ("ping", "health"):
            call.protocol = "mlflow"
            if _any_ready(route):
                await self._send(send, call, 200, b"\n")
            else:
                await self._error(send, call, 503, f"endpoint '{name}' has no ready deployment")
        elif sub == "version":
            call.protocol = "mlflow"
            await self._send(send, call, 200, self._mlflow_version, _TEXT)
        elif sub in ("swagger.json", "openapi.json"):
            call.protocol = "azure"
            await self._document(send, call, headers, route)
        else:
            await self._error(send, call, 404, f"no route '{sub}' on endpoint '{name}' (score, "
                              "invocations, ping, health, version, swagger.json, openapi.json, "
                              "v2/...)")

    def _named(self, route: EndpointRoute, name: bytes | str) -> Deployment | str:
        """The deployment ``name`` of ``route``, or the 404 message."""
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        deployment = route.deployments.get(text)
        if deployment is None:
            known = ", ".join(sorted(route.deployments)) or "none"
            return f"deployment '{text}' does not exist in endpoint '{route.name}' " \
                   f"(deployments: {known})"
        return deployment

    def _no_traffic(self, route: EndpointRoute) -> str:
        known = ", ".join(sorted(route.deployments)) or "none"
        return (f"endpoint '{route.name}' has no deployment with traffic; set its traffic or "
                f"name one with the 'azureml-model-deployment' header (deployments: {known})")

    async def _score(self, receive: Receive, send: Send, call: _Call,
                     headers: dict[bytes, bytes], route: EndpointRoute,
                     protocol: wire.Protocol, named: str | None) -> None:
        reason = route.refuse(headers.get(b"authorization"))
        if reason is not None:
            await self._error(send, call, 401, reason, [(b"www-authenticate", b"Bearer")])
            return
        header = headers.get(b"azureml-model-deployment")
        chosen = named or header  # a V2 path naming a deployment wins over the header
        deployment: Deployment | str | None
        if chosen is not None:
            deployment = self._named(route, chosen)
        else:
            deployment = route.choose()
            if deployment is None:
                deployment = self._no_traffic(route)
            elif deployment.pool is None:  # still starting: another with traffic answers
                deployment = route.choose_ready() or deployment
        if isinstance(deployment, str):
            await self._error(send, call, 404, deployment)
            return
        call.deployment = deployment.name
        if deployment.in_flight >= deployment.max_in_flight:
            await self._error(send, call, 429, f"too many pending requests: deployment "
                              f"'{deployment.name}' admits {deployment.max_in_flight} at once "
                              "(2 x max_concurrent_requests_per_instance x instance_count)")
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._too_large(send, call)
            return
        deployment.in_flight += 1
        gauge = self.metrics.gauge(self.metrics.in_flight, route.name, deployment.name)
        gauge.inc()
        try:
            body = await _read_body(receive, self.max_body)
            if body is None:
                await self._too_large(send, call)
                return
            call.bytes_in = len(body)
            pool = deployment.pool
            if pool is None:
                await self._error(send, call, 503, f"deployment '{deployment.name}' is "
                                  f"{deployment.state}" + (f": {deployment.error}"
                                                           if deployment.error else ""))
                return
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if chosen is None and route.mirror is not None and \
                    random.random() < route.mirror_share:
                self._mirror(route, route.mirror, protocol, content_type, call.request_id, body)
            result = await pool.request(protocol, content_type, call.request_id, body,
                                        deployment.timeout_s)
        finally:
            deployment.in_flight -= 1
            gauge.dec()
        await self._answer(send, call, protocol, result)

    async def _too_large(self, send: Send, call: _Call) -> None:
        limit = f"{self.max_body / 2**20:g} MB ({self.max_body} bytes)"
        await self._error(send, call, 413, f"request body is larger than the server's limit of "
                          f"{limit}; send fewer rows per request or start the server with a "
                          "larger --max-body-mb")

    async def _answer(self, send: Send, call: _Call, protocol: wire.Protocol,
                      result: wire.Response | Failure) -> None:
        if isinstance(result, Failure):
            await self._error(send, call, result.status, result.message)
            return
        self.metrics.observe_rows(call.endpoint, call.deployment, result.rows)
        status = result.status
        if status >= 500 and protocol == wire.Protocol.AZURE:
            extra = [(b"ms-azureml-model-error-statuscode", str(status).encode()),
                     (b"ms-azureml-model-error-reason", _reason(result.body))]
            await self._send(send, call, 424, result.body, result.content_type.encode(), extra)
            return
        await self._send(send, call, status, result.body, result.content_type.encode())

    def _mirror(self, route: EndpointRoute, target: Deployment, protocol: wire.Protocol,
                content_type: str, request_id: str, body: bytes) -> None:
        task = asyncio.ensure_future(
            self._mirror_one(route, target, protocol, content_type, request_id, body))
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    async def _mirror_one(self, route: EndpointRoute, target: Deployment,
                          protocol: wire.Protocol, content_type: str, request_id: str,
                          body: bytes) -> None:
        pool = target.pool
        if pool is None or target.in_flight >= target.max_in_flight:
            self.metrics.count_mirror(route.name, target.name, 503 if pool is None else 429)
            return
        target.in_flight += 1
        try:
            result = await pool.request(protocol, content_type, request_id, body,
                                        target.timeout_s)
        finally:
            target.in_flight -= 1
        self.metrics.count_mirror(route.name, target.name, result.status)

    async def _document(self, send: Send, call: _Call, headers: dict[bytes, bytes],
                        route: EndpointRoute) -> None:
        reason = route.refuse(headers.get(b"authorization"))
        if reason is not None:
            await self._error(send, call, 401, reason, [(b"www-authenticate", b"Bearer")])
            return
        header = headers.get(b"azureml-model-deployment")
        deployment = self._named(route, header) if header else route.primary()
        if isinstance(deployment, str) or deployment is None:
            await self._error(send, call, 404, deployment or f"endpoint '{route.name}' has no "
                              "deployment yet")
            return
        call.deployment = deployment.name
        info = deployment.pool.info if deployment.pool else None
        document = build_document(route.name, deployment.name, deployment.runtime.kind,
                                          info)
        await self._send(send, call, 200, orjson.dumps(document))

    # -- Open Inference Protocol (V2) -----------------------------------------------------------

    async def _v2(self, scope: Scope, receive: Receive, send: Send, call: _Call,
                  headers: dict[bytes, bytes], route: EndpointRoute, sub: str) -> None:
        if sub == "v2/health/live":
            await self._send(send, call, 200, b'{"live":true}')
            return
        if sub == "v2/health/ready":
            ready = _any_ready(route)
            await self._send(send, call, 200 if ready else 503, orjson.dumps({"ready": ready}))
            return
        if sub in ("v2", "v2/"):
            reason = route.refuse(headers.get(b"authorization"))
            if reason is not None:
                await self._error(send, call, 401, reason, [(b"www-authenticate", b"Bearer")])
                return
            await self._send(send, call, 200, orjson.dumps(
                {"name": "lakeworks", "version": _version("lakeworks"), "extensions": []}))
            return
        if not sub.startswith("v2/models/"):
            await self._error(send, call, 404, f"no V2 route '{sub}' (v2/health/live, "
                              "v2/health/ready, v2/models/<model>[/versions/<v>][/ready|/infer])")
            return
        parts = sub[len("v2/models/"):].split("/")
        model, version, action = parts[0], None, ""
        rest = parts[1:]
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        if rest:
            action = rest[0]
        if len(rest) > 1 or action not in ("", "ready", "infer"):
            await self._error(send, call, 404, f"no V2 route '{sub}'")
            return
        named = None if model == route.name else model
        if action == "infer":
            if scope["method"] != "POST":
                await self._error(send, call, 405, "use POST .../infer", [(b"allow", b"POST")])
                return
            if named is not None and named not in route.deployments:
                await self._error(send, call, 404, self._model_missing(route, model))
                return
            await self._score(receive, send, call, headers, route, wire.Protocol.V2, named)
            return
        await self._v2_model(send, call, headers, route, model, named, version, action)

    def _model_missing(self, route: EndpointRoute, model: str) -> str:
        known = ", ".join([route.name, *sorted(route.deployments)])
        return f"model '{model}' is not served by endpoint '{route.name}' (models: {known})"

    async def _v2_model(self, send: Send, call: _Call, headers: dict[bytes, bytes],
                        route: EndpointRoute, model: str, named: str | None,
                        version: str | None, action: str) -> None:
        if action == "":
            reason = route.refuse(headers.get(b"authorization"))
            if reason is not None:
                await self._error(send, call, 401, reason, [(b"www-authenticate", b"Bearer")])
                return
        header = headers.get(b"azureml-model-deployment")
        target = named or (header.decode("latin-1") if header else None)
        deployment = route.deployments.get(target) if target else route.primary()
        if deployment is None:
            await self._error(send, call, 404, self._model_missing(route, model))
            return
        call.deployment = deployment.name
        info = (deployment.pool.info if deployment.pool else None) or {}
        known_version = info.get("version") or deployment.runtime.model_version
        if version is not None and known_version is not None and str(known_version) != version:
            await self._error(send, call, 404, f"model '{model}' has version {known_version}, "
                              f"not {version}")
            return
        ready = deployment.pool is not None and deployment.pool.ready_count > 0
        if action == "ready":
            await self._send(send, call, 200 if ready else 503,
                             orjson.dumps({"name": model, "ready": ready}))
            return
        metadata: dict[str, Any] = {"name": model, "platform": info.get("platform", ""),
                                    "inputs": info.get("inputs") or [],
                                    "outputs": info.get("outputs") or []}
        if known_version is not None:
            metadata["versions"] = [str(known_version)]
        await self._send(send, call, 200, orjson.dumps(metadata))


def _any_ready(route: EndpointRoute) -> bool:
    candidates = [d for _, d in route.split] or list(route.deployments.values())
    return any(d.pool is not None and d.pool.ready_count > 0 for d in candidates)


def _reason(body: bytes) -> bytes:
    """A one-line header value saying why the model failed."""
    text = ""
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict):
            text = str(parsed.get("error") or parsed.get("message") or "")
    except orjson.JSONDecodeError:
        text = body[:200].decode("utf-8", "replace")
    text = " ".join(text.split())[:200] or "the model returned an error"
    return text.encode("ascii", "replace")


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it grows past ``limit`` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body if len(body) <= limit else None
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
