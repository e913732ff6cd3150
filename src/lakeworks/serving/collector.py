"""A deployment's data collection: inputs and outputs of sampled requests, as Delta tables.

Owns writing what a worker scored to ``<collection_root>/<collection>/``, off the request
path: the worker ``offer``s a request's arrays (no copy, no conversion) to a bounded queue
(full: the rows are dropped and counted, a request never waits), and one background thread
turns them into Arrow tables and appends them to Delta Lake every second or every 1000 rows,
and on ``close``. Tables are partitioned by ``date`` (``YYYY-MM-DD``) and ``hour`` (0-23).

Collections: ``model_inputs`` (the input columns, a wide tensor's features named by the
model's columns or ``0..k-1``), ``model_outputs`` (``prediction`` and, for a classifier
with probabilities, ``probability_<class>``), ``model_inputs_outputs`` (both), ``request``
and ``response`` (the raw bodies as text, in ``data``). Every row carries ``correlation_id``
(the request id) and ``timestamp`` (UTC). Several worker processes of a deployment append to
the same tables; Delta's commit protocol orders them and a conflicting commit is retried.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FLUSH_ROWS = 1000
FLUSH_SECONDS = 1.0
QUEUE_SIZE = 10_000
COMMIT_ATTEMPTS = 8
PARTITIONS = ["date", "hour"]
_INPUTS, _OUTPUTS, _BOTH = "model_inputs", "model_outputs", "model_inputs_outputs"
_REQUEST, _RESPONSE = "request", "response"


@dataclass(frozen=True, slots=True)
class _Item:
    request_id: str
    timestamp: float
    rows: int
    inputs: Mapping[str, np.ndarray] | None
    outputs: Mapping[str, np.ndarray] | None
    request_body: bytes | None
    response_body: bytes | None


class Collector:
    """Collects sampled requests of one worker into Delta tables under ``root``.

    Args:
        root: the deployment's collection folder (one sub-folder per collection).
        collections: the collections switched on (``model_inputs``, ``model_outputs``, ...).
        sampling_rate: the share of requests collected (0 < rate <= 1).
        flush_rows, flush_seconds: append when this many rows wait, or this often.
        queue_size: requests held before new ones are dropped.
    """

    def __init__(self, root: str | Path, collections: Sequence[str], sampling_rate: float = 1.0,
                 *, flush_rows: int = FLUSH_ROWS, flush_seconds: float = FLUSH_SECONDS,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.root = Path(root)
        self.collections = tuple(collections)
        self.sampling_rate = sampling_rate
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.dropped = 0  # requests not collected because the queue was full
        self.failed = 0  # rows lost to appends that kept failing
        self.written = 0  # rows appended
        self.wants_models = bool({_INPUTS, _OUTPUTS, _BOTH} & set(self.collections))
        self.wants_bodies = bool({_REQUEST, _RESPONSE} & set(self.collections))
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=queue_size)
        self._random = random.random
        self._thread = threading.Thread(target=self._loop, name="data-collector", daemon=True)
        self._thread.start()

    def sample(self) -> bool:
        """Whether to collect the next request (``sampling_rate`` of them)."""
        return self.sampling_rate >= 1.0 or self._random() < self.sampling_rate

    def offer(self, request_id: str, timestamp: float, rows: int, *,
              inputs: Mapping[str, np.ndarray] | None = None,
              outputs: Mapping[str, np.ndarray] | None = None,
              request_body: bytes | None = None, response_body: bytes | None = None) -> None:
        """Queue one request's data; never blocks (a full queue drops it and counts it).

        ``inputs``: column name -> ``[rows]`` array; ``outputs``: ``prediction`` and others
        -> ``[rows]`` arrays (arrays are kept, not copied: do not change them afterwards).
        """
        item = _Item(request_id, timestamp, rows, inputs, outputs, request_body, response_body)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 30.0) -> None:
        """Append what is queued and stop the thread (waits at most ``timeout`` seconds)."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            logger.error("data collection: the queue stayed full; %d queued requests lost",
                         self._queue.qsize())
            return
        self._thread.join(timeout)
        if self.dropped:
            logger.warning("data collection dropped %d requests (queue full)", self.dropped)

    # -- background thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        pending: list[_Item] = []
        rows = 0
        deadline = time.monotonic() + self.flush_seconds
        while True:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                item = _TICK
            if item is None:
                self._flush(pending)
                return
            if item is not _TICK:
                pending.append(item)
                rows += item.rows
            if rows >= self.flush_rows or time.monotonic() >= deadline:
                self._flush(pending)
                pending, rows = [], 0
                deadline = time.monotonic() + self.flush_seconds

    def _flush(self, items: list[_Item]) -> None:
        if not items:
            return
        for collection in self.collections:
            try:
                tables = _tables(collection, items)
            except Exception:  # a value Arrow cannot hold: log it, keep serving
                logger.exception("data collection %s: rows could not be converted", collection)
                continue
            for table in tables:
                self._append(collection, table)

    def _append(self, collection: str, table: Any) -> None:
        from deltalake import write_deltalake

        path = self.root / collection
        path.mkdir(parents=True, exist_ok=True)
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                write_deltalake(str(path), table, mode="append", schema_mode="merge",
                                partition_by=PARTITIONS)
                self.written += table.num_rows
                return
            except Exception as exc:  # concurrent commits of other workers: retry
                if attempt == COMMIT_ATTEMPTS - 1:
                    self.failed += table.num_rows
                    logger.error("data collection %s: %d rows not appended to %s: %s",
                                 collection, table.num_rows, path, exc)
                    return
                time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)


_TICK = _Item("", 0.0, 0, None, None, None, None)


def _tables(collection: str, items: Sequence[_Item]) -> list[Any]:
    """Arrow tables of ``collection`` for ``items`` (one per distinct set of columns)."""
    groups: dict[tuple[str, ...], list[tuple[_Item, dict[str, np.ndarray]]]] = {}
    for item in items:
        columns = _columns(collection, item)
        if columns is None:
            continue
        groups.setdefault(tuple(columns), []).append((item, columns))
    return [_table(members) for members in groups.values()]


def _columns(collection: str, item: _Item) -> dict[str, np.ndarray] | None:
    if collection == _INPUTS:
        return dict(item.inputs) if item.inputs is not None else None
    if collection == _OUTPUTS:
        return dict(item.outputs) if item.outputs is not None else None
    if collection == _BOTH:
        if item.inputs is None or item.outputs is None:
            return None
        return {**item.inputs, **item.outputs}
    body = item.request_body if collection == _REQUEST else (
        item.response_body if collection == _RESPONSE else None)
    if body is None:
        return None
    return {"data": np.asarray([body.decode("utf-8", "replace")], dtype=object)}


def _table(members: Sequence[tuple[_Item, dict[str, np.ndarray]]]) -> Any:
    import pyarrow as pa

    names = list(members[0][1])
    data: dict[str, Any] = {}
    for name in names:
        parts = [columns[name] for _, columns in members]
        data[name] = _arrow(np.concatenate(parts) if len(parts) > 1 else parts[0])
    ids: list[str] = []
    stamps: list[int] = []
    dates: list[str] = []
    hours: list[int] = []
    for item, columns in members:
        rows = len(next(iter(columns.values()))) if columns else item.rows
        moment = datetime.fromtimestamp(item.timestamp, UTC)
        ids += [item.request_id] * rows
        stamps += [int(item.timestamp * 1_000_000)] * rows
        dates += [moment.strftime("%Y-%m-%d")] * rows
        hours += [moment.hour] * rows
    data["correlation_id"] = pa.array(ids, pa.string())
    data["timestamp"] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
    data["date"] = pa.array(dates, pa.string())
    data["hour"] = pa.array(hours, pa.int32())
    return pa.table(data)


def _arrow(values: np.ndarray) -> Any:
    import pyarrow as pa

    if values.dtype == object:
        return pa.array(values.tolist())
    if values.dtype.kind in "US":
        return pa.array(values.astype(object).tolist(), pa.string())
    return pa.array(values)


def input_columns(feed: Mapping[str, np.ndarray], names: Sequence[str],
                  start: int, stop: int) -> dict[str, np.ndarray]:
    """A request's rows of the model's feed as named ``[rows]`` columns: a wide tensor's
    features named by ``names`` (the model's columns, else ``0..k-1``)."""
    columns: dict[str, np.ndarray] = {}
    if len(feed) == 1:
        (key, array), = feed.items()
        part = array[start:stop]
        if part.ndim == 2 and part.shape[1] != 1:
            labels = list(names) if len(names) == part.shape[1] else [
                str(i) for i in range(part.shape[1])]
            return {label: part[:, j] for j, label in enumerate(labels)}
        return {(names[0] if names else key) or "0": part.reshape(len(part))}
    for number, (key, array) in enumerate(feed.items()):
        label = names[number] if number < len(names) else key
        part = array[start:stop]
        columns[label] = part.reshape(len(part)) if part.ndim == 2 and part.shape[1] == 1 else part
    return columns


def output_columns(outputs: Mapping[str, np.ndarray], main: str | None,
                   classes: Sequence[Any] | None, start: int, stop: int) -> dict[str, np.ndarray]:
    """A request's rows of the outputs as ``prediction`` and ``probability_<class>`` columns
    (other one-value-per-row outputs by their names)."""
    columns: dict[str, np.ndarray] = {}
    if main is not None:
        columns["prediction"] = outputs[main][start:stop]
    for name, array in outputs.items():
        if name == main:
            continue
        part = array[start:stop]
        if part.ndim == 2:
            labels = list(classes) if classes and len(classes) == part.shape[1] else list(
                range(part.shape[1]))
            prefix = "probability" if "prob" in name.lower() else name
            for j, label in enumerate(labels):
                columns[f"{prefix}_{label}"] = part[:, j]
        elif part.ndim == 1:
            columns[name] = part
    return columns
