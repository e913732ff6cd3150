"""The serving front process's Prometheus metrics: one registry, the series it holds, the text.

Owns the metric names and labels (requests by endpoint, deployment, protocol and status code;
latency and batch-size histograms; requests in flight; worker restarts; mirrored requests;
model load time; ready instances) and the rendering of ``GET /metrics``. It must stay cheap on
the request path: label children are looked up once and cached by their label values.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

#: Latency buckets (seconds): a single-row ONNX call answers in well under a millisecond, a
#: slow scoring script may take the whole 180 s request timeout.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                   0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0)
#: Rows in one model call (dynamic batching groups concurrent requests).
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144)
#: Model load (worker start until READY), seconds.
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServingMetrics:
    """The metrics of one front process, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self._requests = Counter(
            "lakeworks_serving_requests", "HTTP requests answered, by status code",
            ("endpoint", "deployment", "protocol", "code"), registry=reg)
        self._latency = Histogram(
            "lakeworks_serving_request_duration_seconds",
            "Time from the request's arrival to its answer",
            ("endpoint", "deployment", "protocol"), buckets=LATENCY_BUCKETS, registry=reg)
        self._rows = Histogram(
            "lakeworks_serving_batch_rows", "Rows in the model call that answered a request",
            ("endpoint", "deployment"), buckets=ROW_BUCKETS, registry=reg)
        self.in_flight = Gauge(
            "lakeworks_serving_in_flight", "Requests admitted and not yet answered",
            ("endpoint", "deployment"), registry=reg)
        self.restarts = Counter(
            "lakeworks_serving_worker_restarts", "Worker processes restarted after a crash or "
            "a failed liveness probe", ("endpoint", "deployment"), registry=reg)
        self._mirror = Counter(
            "lakeworks_serving_mirror_requests", "Copies of live requests sent to the mirror "
            "deployment (answers discarded)", ("endpoint", "deployment", "code"), registry=reg)
        self.load_seconds = Histogram(
            "lakeworks_serving_model_load_seconds", "Worker start until the model is loaded",
            ("endpoint", "deployment"), buckets=LOAD_BUCKETS, registry=reg)
        self.ready_instances = Gauge(
            "lakeworks_serving_ready_instances", "Worker processes ready to score",
            ("endpoint", "deployment"), registry=reg)
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, key: tuple[Any, ...]) -> Any:
        cache_key = (id(metric), *key)
        child = self._children.get(cache_key)
        if child is None:
            child = metric.labels(*(str(k) for k in key))
            self._children[cache_key] = child
        return child

    def observe_request(self, endpoint: str, deployment: str, protocol: str, code: int,
                        seconds: float) -> None:
        """Count one answered request and its latency."""
        self._child(self._requests, (endpoint, deployment, protocol, code)).inc()
        self._child(self._latency, (endpoint, deployment, protocol)).observe(seconds)

    def observe_rows(self, endpoint: str, deployment: str, rows: int) -> None:
        """Record the size of the model call that answered a request (0: unknown, skipped)."""
        if rows > 0:
            self._child(self._rows, (endpoint, deployment)).observe(rows)

    def gauge(self, metric: Gauge, endpoint: str, deployment: str) -> Any:
        """The child of a per-deployment gauge (cached)."""
        return self._child(metric, (endpoint, deployment))

    def count_mirror(self, endpoint: str, deployment: str, code: int) -> None:
        """Count one mirrored copy and the status its deployment answered (0: not sent)."""
        self._child(self._mirror, (endpoint, deployment, code)).inc()

    def count_restart(self, endpoint: str, deployment: str) -> None:
        self._child(self.restarts, (endpoint, deployment)).inc()

    def observe_load(self, endpoint: str, deployment: str, seconds: float) -> None:
        self._child(self.load_seconds, (endpoint, deployment)).observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)
