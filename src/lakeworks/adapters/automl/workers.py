"""Trial processes: a small pool of local worker processes that fit configurations and can be killed.

Owns both sides of the pool. A worker (``python -m lakeworks.adapters.automl.workers BUNDLE``)
loads the training data once, featurizes each validation fold once, then answers requests on
its stdin/stdout (pickled tuples): ``trial`` (fit a configuration on every fold, return its
out-of-fold predictions) and ``refit`` (fit it on all training rows, return the estimator).
The parent side starts workers, sends work, and kills a worker whose request outlives its
deadline (a fresh one takes its place). Workers are plain subprocesses, not
``multiprocessing`` children, so a user's script is never re-imported in them. Must not decide
what to try or when to stop (that is ``search``).
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from lakeworks.errors import BackendError

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Bundle:
    """Everything a worker needs, written once to a file (pickled)."""

    frame: Any  # raw feature columns of every row (training, then validation rows)
    y: np.ndarray  # encoded labels (0..K-1) or float targets
    weight: np.ndarray | None
    folds: list[tuple[np.ndarray, np.ndarray]]
    refit_rows: np.ndarray
    plan: Any
    spec: Any
    context: Any


# -- the worker side --------------------------------------------------------------------------

class _Worker:
    def __init__(self, bundle: Bundle) -> None:
        self.b = bundle
        self.cache: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def _features(self, fold: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Featurized (train, validation) matrices of a fold; fold -1 is the refit rows."""
        if fold not in self.cache:
            from lakeworks.adapters.automl.featurize import build_featurizer

            rows, held = ((self.b.refit_rows, None) if fold < 0 else self.b.folds[fold])
            featurizer = build_featurizer(self.b.plan, self.b.spec)
            train = featurizer.fit_transform(self.b.frame.iloc[rows])
            val = None if held is None else featurizer.transform(self.b.frame.iloc[held])
            self.cache[fold] = (train, val)
        return self.cache[fold]

    def _predict(self, est: Any, X: np.ndarray) -> np.ndarray:
        if self.b.context.classes < 2:
            return np.asarray(est.predict(X), dtype=np.float64).ravel()
        proba = np.asarray(est.predict_proba(X), dtype=np.float64)
        full = np.zeros((X.shape[0], self.b.context.classes))
        full[:, np.asarray(est.classes_, dtype=np.int64)] = proba
        return full

    def trial(self, algorithm: str, params: dict[str, Any]) -> tuple[Any, ...]:
        from lakeworks.adapters.automl.learners import LEARNERS, fit_member

        learner = LEARNERS[algorithm]
        b = self.b
        parts, rounds = [], []
        for k, (rows, held) in enumerate(b.folds):
            X, X_val = self._features(k)
            assert X_val is not None
            weight = None if b.weight is None else b.weight[rows]
            est, kept = fit_member(learner, params, b.context, X, b.y[rows], weight,
                                   X_val, b.y[held])
            parts.append(self._predict(est, X_val))
            rounds.append(kept)
        return np.concatenate(parts), rounds

    def refit(self, algorithm: str, params: dict[str, Any]) -> Any:
        from lakeworks.adapters.automl.learners import LEARNERS, fit_member

        X, _ = self._features(-1)
        rows = self.b.refit_rows
        weight = None if self.b.weight is None else self.b.weight[rows]
        est, _ = fit_member(LEARNERS[algorithm], params, self.b.context, X, self.b.y[rows],
                            weight)
        return est


def _send(channel: IO[bytes], message: tuple[Any, ...]) -> None:
    pickle.dump(message, channel, protocol=pickle.HIGHEST_PROTOCOL)
    channel.flush()


def main(argv: list[str]) -> int:
    """A worker's loop (``argv[1]``: the bundle file)."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to the log, not the message channel
    import warnings

    warnings.simplefilter("ignore")
    with open(argv[1], "rb") as handle:
        worker = _Worker(pickle.load(handle))
    _send(channel, ("ready", os.getpid()))
    requests = sys.stdin.buffer
    while True:
        try:
            kind, key, algorithm, params = pickle.load(requests)
        except EOFError:
            return 0
        started = time.perf_counter()
        try:
            result = (worker.trial if kind == "trial" else worker.refit)(algorithm, params)
            error = None
        except Exception as exc:  # a configuration that fails is a Failed trial, not a crash
            result, error = None, f"{type(exc).__name__}: {exc}"
        _send(channel, (kind, key, result, time.perf_counter() - started, error))


# -- the parent side --------------------------------------------------------------------------

def expire(slots: Sequence[Any], free: Callable[[Any], None],
           timeout: float) -> tuple[list[Event], float]:
    """Time out the requests past their deadline, or say how long to wait for the next event.

    ``slots`` are a pool's workers (anything with a ``job``); ``free`` stops a slot's request.
    Returns the timeout events (each slot freed) and, when there are none, the seconds until
    ``timeout`` or the nearest deadline.
    """
    now = time.time()
    out: list[Event] = []
    for slot in slots:
        if slot.job is not None and now >= slot.job.deadline:
            out.append(Event("timeout", slot.job))
            free(slot)
    deadlines = [s.job.deadline - now for s in slots if s.job is not None]
    return out, max(min([timeout, *deadlines]), 0.0)


@dataclass
class Job:
    """A request in flight on one worker."""

    kind: str  # "trial" | "refit"
    key: Any
    algorithm: str
    params: dict[str, Any]
    deadline: float
    started: float = field(default_factory=time.time)


@dataclass
class Event:
    """What ``Pool.wait`` reports: a result, a timeout (worker killed) or a dead worker."""

    kind: str  # "done" | "timeout" | "died"
    job: Job
    result: Any = None
    seconds: float = 0.0
    error: str | None = None


class _Proc:
    def __init__(self, ident: int, command: list[str], env: dict[str, str], log: Path,
                 events: queue.Queue[tuple[int, Any]]) -> None:
        self.ident = ident
        self.ready = False
        self.job: Job | None = None
        self.log = log
        with log.open("ab") as err:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, env=env)
        threading.Thread(target=self._read, args=(events,), daemon=True).start()

    def _read(self, events: queue.Queue[tuple[int, Any]]) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            try:
                events.put((self.ident, pickle.load(stream)))
            except (EOFError, OSError, pickle.UnpicklingError):
                events.put((self.ident, None))
                return

    def send(self, job: Job) -> None:
        assert self.proc.stdin is not None
        self.job = job
        _send(self.proc.stdin, (job.kind, job.key, job.algorithm, job.params))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Pool:
    """``size`` worker processes over one bundle file."""

    def __init__(self, bundle: Path, size: int, threads: int, log_dir: Path) -> None:
        self.command = [sys.executable, "-m", "lakeworks.adapters.automl.workers", str(bundle)]
        self.env = dict(os.environ, **{v: str(threads) for v in _THREAD_VARS})
        self.log_dir = log_dir
        self.events: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.procs: dict[int, _Proc] = {}
        self.next_ident = 0
        self.early_deaths = 0
        for _ in range(size):
            self._start()

    def _start(self) -> None:
        ident = self.next_ident
        self.next_ident += 1
        log = self.log_dir / f"worker-{ident % 100}.log"
        self.procs[ident] = _Proc(ident, self.command, self.env, log, self.events)

    def idle(self) -> list[_Proc]:
        return [p for p in self.procs.values() if p.ready and p.job is None]

    def busy(self) -> list[Job]:
        return [p.job for p in self.procs.values() if p.job is not None]

    def submit(self, job: Job) -> None:
        idle = self.idle()
        if not idle:
            raise RuntimeError("no idle worker")
        idle[0].send(job)

    def _replace(self, proc: _Proc) -> None:
        proc.kill()
        self.procs.pop(proc.ident, None)
        self._start()

    def wait(self, timeout: float) -> list[Event]:
        """Events until ``timeout`` seconds pass or something happens."""
        out, limit = expire(list(self.procs.values()), self._replace, timeout)
        if out:
            return out
        try:
            ident, message = self.events.get(timeout=limit)
        except queue.Empty:
            return out
        found = self.procs.get(ident)
        if found is None:  # a message from a worker already replaced
            return out
        proc = found
        if message is None:
            code = proc.proc.wait()
            if not proc.ready:
                self.early_deaths += 1
                if self.early_deaths >= 3:
                    tail = proc.log.read_text(errors="replace")[-2000:]
                    raise BackendError(f"AutoML worker processes fail to start:\n{tail}")
            if proc.job is not None:
                out.append(Event("died", proc.job,
                                 error=f"the trial process ended unexpectedly (exit code {code})"))
            self._replace(proc)
            return out
        if message[0] == "ready":
            proc.ready = True
            return out
        job = proc.job
        proc.job = None
        if job is not None:
            _, _, result, seconds, error = message
            out.append(Event("done", job, result, seconds, error))
        return out

    def kill_busy(self) -> None:
        """Stop every request in flight (their workers are replaced by fresh ones)."""
        for proc in list(self.procs.values()):
            if proc.job is not None:
                self._replace(proc)

    def close(self) -> None:
        for proc in self.procs.values():
            try:
                if proc.proc.stdin is not None:
                    proc.proc.stdin.close()
            except OSError:
                pass
        deadline = time.time() + 2
        for proc in self.procs.values():
            try:
                proc.proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
