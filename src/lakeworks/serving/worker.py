"""One instance of a deployment: a process holding the model, answering frames from the front.

Run as ``<python> -m lakeworks.serving.worker --fd N --runtime FILE``: ``N`` is this
process's end of a socket pair (see ``lakeworks.serving.wire``), ``FILE`` a
``DeploymentRuntime`` as JSON. The process sets ``OMP_NUM_THREADS=1`` (one instance, one
core), ``AZUREML_MODEL_DIR``, ``AZUREML_ENTRY_SCRIPT`` and ``WORKER_COUNT``, loads the model
(``lakeworks.serving.models``), answers READY with its ``ModelInfo`` (or FAILED with the error,
then exits 1), and serves until STOP (it finishes what it holds, then exits 0) or until the
front closes the socket.

Owns the serving loop: one thread, a blocking selector. Each turn reads every frame that has
arrived, answers PINGs at once, parses SCORE frames (a bad one is answered with its own 4xx
right away), then scores: for a model deployment, queued requests of the same structure are
concatenated into one model call of at most ``batching.max_batch_size`` rows (waiting up to
``batching.max_wait_ms`` for more when the batch is not full; 0 takes what is queued), and
the outputs are split back per request in order; ``rows`` of each answer is the rows of the
model call that served it. A scoring script gets one ``run(raw_data)`` per request. Sampled
requests are handed to the data collector (``lakeworks.serving.collector``) when the
deployment collects data. Lifecycle and errors go to stderr, which the front appends to the
deployment's ``inference-server.log``.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before numpy and the model's libraries read it
    os.environ["OMP_NUM_THREADS"] = "1"

import argparse
import logging
import selectors
import signal
import socket
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lakeworks.core.endpoints import DeploymentRuntime
from lakeworks.errors import InvalidInputError
from lakeworks.serving import wire
from lakeworks.serving.collector import Collector, input_columns, output_columns
from lakeworks.serving.models import (
    MlflowModel,
    ModelInfo,
    OnnxModel,
    ScriptModel,
    ServingModel,
    load_model,
)
from lakeworks.serving.payloads import (
    JSON_TYPE,
    Reply,
    dumps,
    error_reply,
    invalid_reply,
    parse,
    render,
)
from lakeworks.serving.schema import ModelAnswer, ModelRequest

log = logging.getLogger("lakeworks.serving.worker")

_RECV_BYTES = 1 << 20


@dataclass(slots=True)
class _Queued:
    """A SCORE request waiting for its model call."""

    number: int
    protocol: wire.Protocol
    request_id: str
    body: bytes
    request: ModelRequest | None  # None for a scoring script
    arrived: float  # time.monotonic()
    timestamp: float  # time.time(), for collected data


class Worker:
    """The serving loop over one socket (see the module docstring).

    Args:
        sock: this process's end of the socket pair (blocking).
        runtime: the deployment.
        model: the loaded model.
        collector: the data collector, if the deployment collects data.
    """

    def __init__(self, sock: socket.socket, runtime: DeploymentRuntime, model: ServingModel,
                 collector: Collector | None = None) -> None:
        self.sock = sock
        self.runtime = runtime
        self.model = model
        self.collector = collector
        self.reader = wire.FrameReader()
        self.queue: deque[_Queued] = deque()
        self.stopping = False
        self.closed = False
        batching = runtime.batching
        self.batching = batching.enabled and not isinstance(model, ScriptModel)
        self.max_rows = batching.max_batch_size if self.batching else 1
        self.max_wait = batching.max_wait_ms / 1000.0 if self.batching else 0.0
        self.info: ModelInfo = model.info
        self._outputs = [o.name for o in self.info.outputs]
        self.calls = 0  # model calls made
        self._view = memoryview(bytearray(_RECV_BYTES))

    # -- loop -------------------------------------------------------------------------------------

    def serve(self) -> int:
        """Serve until STOP (then 0 once the queue is empty) or the socket closes (0)."""
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        try:
            while True:
                if selector.select(self._timeout()) and not self._receive():
                    log.info("the front closed the connection; exiting")
                    return 0
                self._work()
                if self.stopping and not self.queue:
                    log.info("stopped after answering every request")
                    return 0
        except (BrokenPipeError, ConnectionResetError):
            log.info("the front closed the connection; exiting")
            return 0
        finally:
            selector.close()

    def _timeout(self) -> float | None:
        """How long to wait for frames: forever when idle, 0 when a batch is ready."""
        if not self.queue:
            return None
        if self.stopping or self.max_wait <= 0 or self._queued_rows() >= self.max_rows:
            return 0.0
        return max(self.queue[0].arrived + self.max_wait - time.monotonic(), 0.0)

    def _queued_rows(self) -> int:
        total = 0
        for item in self.queue:
            total += item.request.rows if item.request is not None else 1
            if total >= self.max_rows:
                break
        return total

    def _receive(self) -> bool:
        """Read every frame that has arrived and handle it; False when the socket closed.

        Reads into one preallocated buffer: asking ``recv`` for a megabyte would allocate
        (and map) a megabyte per call.
        """
        view = self._view
        size = self.sock.recv_into(view)
        if not size:
            return False
        data = [bytes(view[:size])]
        # a stream socket hands over all it holds up to the size asked: a short read means
        # nothing more has arrived, so only a full read is followed by more
        while size == _RECV_BYTES:
            try:
                size = self.sock.recv_into(view, 0, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            if not size:
                self.closed = True
                break
            data.append(bytes(view[:size]))
        for frame in self.reader.feed(data[0] if len(data) == 1 else b"".join(data)):
            self._frame(frame)
        return not self.closed

    def _frame(self, frame: bytes) -> None:
        request = wire.decode_request(frame)
        if request.kind is wire.Kind.PING:
            self._send(request.number, Reply(200, b'{"live":true}'))
            return
        if request.kind is wire.Kind.STOP:
            log.info("STOP received; finishing %d queued request(s)", len(self.queue))
            self.stopping = True
            return
        now = time.monotonic()
        stamp = time.time() if self.collector is not None else 0.0
        if isinstance(self.model, ScriptModel):
            self.queue.append(_Queued(request.number, request.protocol, request.request_id,
                                      request.body, None, now, stamp))
            return
        try:
            parsed = parse(request.protocol, request.content_type, request.body,
                           self.model.schema, outputs=self._outputs)
        except InvalidInputError as exc:
            self._send(request.number, invalid_reply(request.protocol, exc))
            return
        except Exception as exc:  # a parser bug must not take the worker down
            log.exception("request %s could not be parsed", request.request_id)
            self._send(request.number, error_reply(request.protocol, f"internal error while "
                                                   f"reading the request: {exc}", 500))
            return
        self.queue.append(_Queued(request.number, request.protocol, request.request_id,
                                  request.body, parsed, now, stamp))

    def _work(self) -> None:
        """Score the next batch if it is ready (full, waited long enough, or not waiting)."""
        if not self.queue:
            return
        if isinstance(self.model, ScriptModel):
            while self.queue:
                self._run_script(self.model, self.queue.popleft())
            return
        if self._timeout() not in (0.0, None) and not self.stopping:
            return
        batch = self._take()
        self._score(batch)

    def _take(self) -> list[_Queued]:
        """The longest run of queued requests that fits one model call."""
        first = self.queue.popleft()
        assert first.request is not None
        batch = [first]
        rows = first.request.rows
        if not self.queue or not self.batching:
            return batch
        key = first.request.batch_key
        while self.queue:
            candidate = self.queue[0].request
            assert candidate is not None
            if rows + candidate.rows > self.max_rows or candidate.batch_key != key:
                break
            batch.append(self.queue.popleft())
            rows += candidate.rows
        return batch

    # -- model calls ------------------------------------------------------------------------------

    def _score(self, batch: list[_Queued]) -> None:
        model = self.model
        assert not isinstance(model, ScriptModel)
        requests = [item.request for item in batch if item.request is not None]
        feed = _concatenate([r.feed for r in requests])
        rows = sum(r.rows for r in requests)
        first = requests[0]
        try:
            answer = model.predict(feed, frame=first.frame, params=first.params)
            self.calls += 1
        except InvalidInputError as exc:
            if len(batch) > 1:  # find the request at fault: score each alone
                for item in batch:
                    self._score([item])
                return
            self._send(batch[0].number, invalid_reply(batch[0].protocol, exc))
            return
        except Exception as exc:  # the model's own failure: a 500 naming it
            if len(batch) > 1:
                for item in batch:
                    self._score([item])
                return
            log.error("model call failed for request %s:\n%s", batch[0].request_id,
                      traceback.format_exc())
            self._send(batch[0].number, error_reply(
                batch[0].protocol, f"the model failed: {type(exc).__name__}: {exc}", 500))
            return
        if len(batch) > 1 and any(len(v) != rows for v in answer.outputs.values()):
            for item in batch:  # outputs that cannot be split by row: one call each
                self._score([item])
            return
        self._answer(batch, feed, answer, rows)

    def _answer(self, batch: list[_Queued], feed: dict[str, np.ndarray], answer: ModelAnswer,
                rows: int) -> None:
        start = 0
        single = len(batch) == 1
        for item in batch:
            request = item.request
            assert request is not None
            stop = start + request.rows
            part = answer if single else ModelAnswer(
                {k: v[start:stop] for k, v in answer.outputs.items()}, answer.main)
            try:
                body = render(item.protocol, part, request, model_name=self.info.name,
                              model_version=self.info.version)
                reply = Reply(200, body)
            except Exception as exc:  # an output JSON cannot hold
                log.exception("the answer to request %s could not be written", item.request_id)
                reply = error_reply(item.protocol, f"the model's output cannot be written as "
                                    f"JSON: {exc}", 500)
            self._send(item.number, reply, rows=rows)
            if self.collector is not None and self.collector.sample():
                self._collect(item, feed, part if single else answer, start, stop, reply)
            start = stop

    def _collect(self, item: _Queued, feed: dict[str, np.ndarray], answer: ModelAnswer,
                 start: int, stop: int, reply: Reply) -> None:
        collector = self.collector
        assert collector is not None and item.request is not None
        inputs = outputs = None
        if collector.wants_models:
            inputs = input_columns(feed, item.request.names, start, stop)
            outputs = output_columns(answer.outputs, answer.main, _classes(self.model),
                                     start, stop)
        collector.offer(item.request_id, item.timestamp, stop - start, inputs=inputs,
                        outputs=outputs, request_body=item.body if collector.wants_bodies
                        else None, response_body=reply.body if collector.wants_bodies else None)

    def _run_script(self, model: ScriptModel, item: _Queued) -> None:
        try:
            raw = item.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._send(item.number, error_reply(item.protocol, f"the request body is not UTF-8 "
                                                f"text ({exc}); send JSON or text", 400))
            return
        try:
            result = model.run(raw)
            self.calls += 1
        except Exception as exc:  # the user's run(): a 500 carrying its error
            text = traceback.format_exc()
            log.error("run() failed for request %s:\n%s", item.request_id, text)
            self._send(item.number, error_reply(item.protocol, f"run() failed: "
                                                f"{type(exc).__name__}: {exc}", 500))
            return
        try:
            reply = Reply(200, dumps(result))
        except TypeError as exc:
            self._send(item.number, error_reply(
                item.protocol, f"run() returned a value JSON cannot hold: {exc}", 500))
            return
        self._send(item.number, reply)
        if self.collector is not None and self.collector.wants_bodies and self.collector.sample():
            self.collector.offer(item.request_id, item.timestamp, 1, request_body=item.body,
                                 response_body=reply.body)

    def _send(self, number: int, reply: Reply, *, rows: int = 0) -> None:
        self.sock.sendall(wire.encode_response(number, reply.status, reply.body,
                                               content_type=reply.content_type, rows=rows))


def _concatenate(feeds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(feeds) == 1:
        return feeds[0]
    return {key: np.concatenate([f[key] for f in feeds]) for key in feeds[0]}


def _classes(model: ServingModel) -> list[Any] | None:
    if isinstance(model, (OnnxModel, MlflowModel)):
        return model.classes
    return None


# -- process ------------------------------------------------------------------------------------


def _environment(runtime: DeploymentRuntime) -> None:
    """The variables a scoring script expects (the front sets them too)."""
    for key, value in runtime.environment_variables.items():
        os.environ.setdefault(key, value)
    if runtime.model_dir:
        os.environ["AZUREML_MODEL_DIR"] = runtime.model_dir
    if runtime.scoring_script:
        os.environ["AZUREML_ENTRY_SCRIPT"] = runtime.scoring_script
    os.environ["WORKER_COUNT"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"


def _warm_up(model: ServingModel) -> None:
    """One call on a row of zeros, so the first request does not pay for allocations."""
    if not isinstance(model, OnnxModel) or model.schema.layout != "wide":
        return
    spec = model.schema.inputs[0]
    width = model.schema.width
    if width is None or spec.datatype not in ("FP32", "FP64"):
        return
    dtype = np.float32 if spec.datatype == "FP32" else np.float64
    try:
        model.predict({spec.name: np.zeros((1, width), dtype=dtype)})
    except Exception:  # a model that refuses zeros still serves real rows
        log.debug("warm-up call failed", exc_info=True)


def _lifecycle(sock: socket.socket, status: int, body: bytes, content_type: str) -> None:
    sock.sendall(wire.encode_response(wire.READY_NUMBER, status, body,
                                      content_type=content_type))


def _configure_logging(runtime_name: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s [worker {os.getpid()} {runtime_name}] %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def run_worker(fd: int, runtime_file: str | Path) -> int:
    """Load, report READY or FAILED, and serve (the process's exit code)."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    try:
        runtime = DeploymentRuntime.model_validate_json(Path(runtime_file).read_text())
    except Exception as exc:  # an unreadable runtime file: nothing to serve
        _configure_logging("?")
        log.error("cannot read the deployment runtime %s: %s", runtime_file, exc)
        _lifecycle(sock, 500, f"cannot read the deployment runtime {runtime_file}: "
                   f"{exc}".encode(), "text/plain")
        return 1
    _configure_logging(f"{runtime.endpoint}/{runtime.name}")
    _environment(runtime)
    started = time.monotonic()
    log.info("loading %s model (%s)", runtime.kind, runtime.model_name or runtime.name)
    try:
        model = load_model(runtime)
        _warm_up(model)
    except BaseException as exc:  # anything init() or a loader raises fails the instance
        text = "".join(traceback.format_exception(exc)).rstrip()
        log.error("model load failed:\n%s", text)
        summary = exc.detail if isinstance(exc, InvalidInputError) else f"{type(exc).__name__}: {exc}"
        _lifecycle(sock, 500, f"{summary}\n\n{text}".encode("utf-8", "replace"), "text/plain")
        return 1
    collector = None
    if runtime.collections and runtime.collection_root:
        collector = Collector(runtime.collection_root, runtime.collections,
                              runtime.sampling_rate)
        log.info("collecting %s at %s (sampling rate %s)", ", ".join(runtime.collections),
                 runtime.collection_root, runtime.sampling_rate)
    log.info("ready after %.2f s: %s", time.monotonic() - started,
             dumps(model.info.to_json()).decode())
    _lifecycle(sock, 200, dumps(model.info.to_json()), JSON_TYPE)
    worker = Worker(sock, runtime, model, collector)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return worker.serve()
    finally:
        if collector is not None:
            collector.close()
            log.info("data collection closed: %d rows written, %d dropped requests",
                     collector.written, collector.dropped)
        sock.close()


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: leave the loop so collected data is still appended."""
    log.info("SIGTERM received; exiting")
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakeworks.serving.worker",
                                     description="one instance of an online deployment")
    parser.add_argument("--fd", type=int, required=True,
                        help="file descriptor of this process's end of the socket pair")
    parser.add_argument("--runtime", required=True, help="the DeploymentRuntime JSON file")
    args = parser.parse_args(argv)
    return run_worker(args.fd, args.runtime)


__all__ = ["ModelInfo", "Worker", "main", "run_worker"]

if __name__ == "__main__":
    sys.exit(main())
