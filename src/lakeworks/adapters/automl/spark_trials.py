"""Trials as Spark tasks: the pool ``workers.Pool`` is, with a Spark session doing the work.

Owns running AutoML requests (``trial``, ``refit``) on a Spark cluster (or ``local[*]``)
instead of local worker processes, for AutoML jobs whose compute is ``spark``. The training
bundle goes to the executors once (a broadcast variable on a classic session; with Spark
Connect, which has no broadcast, inside each task), each executor's Python worker keeps the
loaded bundle and its featurized folds between tasks, and every request is a one-row
``mapInPandas`` job tagged with its own tag, so a request past its deadline is cancelled
(Spark interrupts the task and kills its Python worker) while the others go on.
Must not decide what to try or when to stop (that is ``search``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import pickle
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeworks.adapters.automl.workers import Event, Job, _Worker, expire
from lakeworks.errors import BackendError

#: Loaded bundles on an executor's Python worker, by digest (a worker serves one run at once).
_LOADED: dict[str, _Worker] = {}


def _executor_worker(payload: tuple[str, Any, str], threads: int) -> _Worker:
    kind, data, digest = payload
    worker = _LOADED.get(digest)
    if worker is None:
        raw = data.value if kind == "broadcast" else data
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
        _LOADED.clear()
        worker = _LOADED[digest] = _Worker(pickle.loads(raw))
    return worker


def _task(payload: tuple[str, Any, str], threads: int, request: tuple[str, Any, str, Any],
          batches: Iterator[Any]) -> Iterator[Any]:
    """The executor side of one request: a single output row with the pickled reply."""
    import warnings

    import pandas as pd

    for _ in batches:  # the one-row input frame only starts the task
        pass
    warnings.simplefilter("ignore")
    kind, key, algorithm, params = request
    worker = _executor_worker(payload, threads)
    started = time.perf_counter()
    try:
        result = (worker.trial if kind == "trial" else worker.refit)(algorithm, params)
        error = None
    except Exception as exc:  # a configuration that fails is a Failed trial, not a crash
        result, error = None, f"{type(exc).__name__}: {exc}"
    reply = (kind, key, result, time.perf_counter() - started, error)
    yield pd.DataFrame({"reply": [pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)]})


@dataclass
class _Slot:
    """One of ``size`` concurrent requests (Spark decides which executor runs it)."""

    ident: int
    ready: bool = True
    job: Job | None = None
    tag: str = ""
    generation: int = 0


class SparkPool:
    """``size`` concurrent requests on ``spark`` over one bundle file.

    Same surface as ``workers.Pool`` (``idle``, ``busy``, ``submit``, ``wait``,
    ``kill_busy``, ``close``, ``procs``), so the search and the final refit do not know
    where their work runs.
    """

    def __init__(self, spark: Any, bundle: Path, size: int, threads: int) -> None:
        self.spark = spark
        self.threads = threads
        data = bundle.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            context = spark.sparkContext
        except Exception:  # Spark Connect: no SparkContext, no broadcast variables
            context = None
        self._context = context
        self._broadcast = context.broadcast(data) if context is not None else None
        self.payload: tuple[str, Any, str] = (
            ("broadcast", self._broadcast, digest) if self._broadcast is not None
            else ("bytes", data, digest))
        self.procs: dict[int, _Slot] = {i: _Slot(i) for i in range(size)}
        self.events: queue.Queue[tuple[int, int, Any, str | None]] = queue.Queue()
        self.prefix = f"lakeworks-automl-{uuid.uuid4().hex[:12]}"
        self._tags = itertools.count()
        self.failures = 0  # Spark-level failures since the last reply

    def idle(self) -> list[_Slot]:
        return [s for s in self.procs.values() if s.job is None]

    def busy(self) -> list[Job]:
        return [s.job for s in self.procs.values() if s.job is not None]

    def submit(self, job: Job) -> None:
        idle = self.idle()
        if not idle:
            raise RuntimeError("no idle slot")
        slot = idle[0]
        slot.job = job
        slot.generation += 1
        slot.tag = f"{self.prefix}-{next(self._tags)}"
        request = (job.kind, job.key, job.algorithm, job.params)
        threading.Thread(target=self._run, args=(slot.ident, slot.generation, slot.tag, request),
                         daemon=True).start()

    def _run(self, ident: int, generation: int, tag: str,
             request: tuple[str, Any, str, Any]) -> None:
        spark, context = self.spark, self._context
        task = functools.partial(_task, self.payload, self.threads, request)
        # Tags are per thread. A classic session's job tags live on its SparkContext (set to
        # interrupt the task, so Spark kills its Python worker); Spark Connect has its own.
        if context is not None:
            context.setInterruptOnCancel(True)
            context.addJobTag(tag)
        else:
            spark.addTag(tag)
        try:
            frame = spark.range(1, numPartitions=1)
            rows = frame.mapInPandas(task, "reply binary").collect()
            self.events.put((ident, generation, pickle.loads(rows[0][0]), None))
        except Exception as exc:  # cancelled, or the task (or the cluster) failed
            self.events.put((ident, generation, None, _first_line(exc)))
        finally:
            if context is not None:
                context.removeJobTag(tag)
            else:
                spark.removeTag(tag)

    def _cancel(self, slot: _Slot) -> None:
        if slot.job is not None:
            try:
                if self._context is not None:
                    self._context.cancelJobsWithTag(slot.tag)
                else:
                    self.spark.interruptTag(slot.tag)
            except Exception:  # the session may be going away; the thread ends on its own
                pass
        slot.job = None

    def wait(self, timeout: float) -> list[Event]:
        """Events until ``timeout`` seconds pass or something happens."""
        out, limit = expire(list(self.procs.values()), self._cancel, timeout)
        if out:
            return out
        try:
            ident, generation, reply, failure = self.events.get(timeout=limit)
        except queue.Empty:
            return out
        slot = self.procs[ident]
        if generation != slot.generation or slot.job is None:  # a cancelled request's end
            return out
        job, slot.job = slot.job, None
        if reply is None:
            self.failures += 1
            if self.failures >= 3:
                hint = ("; the executors' Python needs lakeworks[automl] installed (set "
                        "spark.pyspark.python or PYSPARK_PYTHON to such a Python)"
                        if "ModuleNotFoundError" in (failure or "") else "")
                raise BackendError(f"AutoML trials fail on Spark: {failure}{hint}")
            out.append(Event("died", job, error=f"the Spark task failed: {failure}"))
            return out
        self.failures = 0
        _, _, result, seconds, error = reply
        out.append(Event("done", job, result, seconds, error))
        return out

    def kill_busy(self) -> None:
        """Cancel every request in flight."""
        for slot in self.procs.values():
            self._cancel(slot)

    def close(self) -> None:
        self.kill_busy()
        if self._broadcast is not None:
            try:
                self._broadcast.destroy()
            except Exception:  # a stopped context has nothing left to free
                pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:  # Spark's messages put the Python error deep inside a Java trace
        if "Error:" in line and not line.lstrip().startswith("at "):
            return line.strip()[:500]
    return lines[0][:500]


def spark_parallelism(spark: Any) -> int | None:
    """The cores a classic session schedules tasks on (None for Spark Connect: unknown)."""
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:
        return None
