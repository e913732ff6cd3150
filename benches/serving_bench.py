"""Online endpoints: a Lakeworks endpoint against ``mlflow models serve``, side by side.

Model (as in the MLflow anchor measured for issue 6): ``GradientBoostingClassifier(
n_estimators=100)`` (depth 3) on ``make_classification(n_samples=20_000, n_features=20,
n_informative=10, random_state=0)``, 80/20 split (``random_state=0``). It is saved once as an
MLflow model (``mlflow.sklearn.save_model``, signature from a DataFrame with named columns
``f0`` .. ``f19``) and its ONNX export (skl2onnx, opset 17, ``zipmap`` off, one float input
of shape ``[None, 20]``) is written as ``model.onnx`` in the same folder; the export must
agree with scikit-learn on the test labels.

Both servers run at the same time on 127.0.0.1, from that one folder:

* (a) ``mlflow models serve -m <folder> --env-manager local -h 127.0.0.1 -p <port> -w 1``
  (one uvicorn worker), ready when ``GET /ping`` answers 200;
* (b) a Lakeworks managed online endpoint in a temporary workspace, created with the SDK as
  an Azure user writes it (model registered as ``mlflow_model``, deployment ``blue``, one
  instance, ``max_concurrent_requests_per_instance=32``, traffic ``{"blue": 100}``, key
  auth), called at ``scoring_uri`` with ``Authorization: Bearer <primary key>``.

The load generator is ``benches/loadgen.py`` (raw sockets, HTTP/1.1 keep-alive, closed loop;
not httpx, whose client CPU cost would dominate). Scenarios, each ``--duration`` seconds after
a short warm-up: one row per request at concurrency 1 and 16 (req/s, p50, p99) and 1000 rows
per request at concurrency 1 (rows/s). MLflow gets ``dataframe_split`` JSON at
``/invocations``; Lakeworks gets the same body at ``/endpoints/<e>/invocations`` (the headline
comparison) and the Azure form ``{"input_data": {"columns", "index", "data"}}`` at
``/endpoints/<e>/score``. Each server is also measured on ``GET .../ping`` at concurrency 16
(no model, no body: the framework's floor, comparable with the anchor's ``ping-c16`` to judge
how loaded the machine was). Rounds alternate which server goes first; tables are medians over
``--rounds`` (each scenario after an uncounted warm-up). Before measuring, each target's answer
for the 1000 test rows is compared with scikit-learn's labels. "client us/req" is the CPU time
of the load generator's thread per request: ~12-25 us when the server keeps it busy; at low
request rates the wake-ups after each idle wait dominate it (~100 us on this kind of VM).

Goals (issue 6, on 2 cores): Lakeworks >= 5x MLflow's req/s for one row at concurrency 16,
with a p99 below MLflow's p50; >= 3x its rows/s for 1000-row JSON; p50 < 1 ms for one row at
concurrency 1. Then a soak against Lakeworks (``--soak-seconds`` at concurrency 16, Azure
``/score`` form): zero errors and the resident memory of the server and its workers (summed)
growing by less than 10 % from just after a warm-up to the end.

``--pin`` puts both servers (and every process they start) on CPU 0 and this client on CPU 1,
as the anchor was measured; without it everything shares the machine's cores.

Run:  python benches/serving_bench.py [--rounds 3] [--duration 10] [--soak-seconds 60]
      [--pin] [--json out.json] [--only all|mlflow|lakeworks] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadResult, build_request, event_loop_name, run_load

FEATURES = [f"f{i}" for i in range(20)]
ENDPOINT = "bench-gbc"
MODEL_NAME = "bench-gbc-model"
FLAG = Path("/tmp/bench.running")
SCENARIOS = ("1row-c1", "1row-c16", "1000rows-c1")
PING = "ping-c16"  # the framework's floor (GET ping, no model), to judge the machine's state
MLFLOW = "mlflow"
LW_INVOCATIONS = "lakeworks-invocations"
LW_SCORE = "lakeworks-score"
HEADLINE = LW_INVOCATIONS  # same body and protocol as MLflow's
#: The MLflow anchor's earlier medians on this kind of machine (6 runs, server pinned to one
#: CPU, raw-socket client): a second yardstick, in case MLflow had a bad sitting here.
ANCHOR = {"1row-c1": {"req_s": 142.0, "p50_ms": 5.81}, "1row-c16": {"req_s": 254.0,
          "p50_ms": 56.66}, "1000rows-c1": {"rows_s": 40_940.0}, "ping-c16": {"req_s": 2359.0}}


# -- model -----------------------------------------------------------------------------------
@dataclass
class TrainedModel:
    folder: Path  # the MLflow model folder, with model.onnx inside
    x_test: np.ndarray
    y_pred: np.ndarray  # scikit-learn's labels for x_test
    accuracy: float
    fit_s: float
    onnx_agreement: float


def train_and_save(folder: Path) -> TrainedModel:
    """Fit the anchor's model, save it as an MLflow model and write its ONNX export inside."""
    import mlflow.sklearn
    import onnxruntime as ort
    from mlflow.models import infer_signature
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    x, y = make_classification(n_samples=20_000, n_features=20, n_informative=10,
                               random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    model = GradientBoostingClassifier(n_estimators=100)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - started
    frame = pd.DataFrame(x_test, columns=FEATURES)
    y_pred = model.predict(frame.to_numpy())
    # MLflow's default format (skops) must be told that the trees' node storage is trusted
    mlflow.sklearn.save_model(model, str(folder), signature=infer_signature(frame, y_pred),
                              skops_trusted_types=["sklearn.tree._tree.Tree"])
    onnx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 20]))],
                           target_opset={"": 17, "ai.onnx.ml": 3},
                           options={id(model): {"zipmap": False}})
    (folder / "model.onnx").write_bytes(onnx.SerializeToString())
    session = ort.InferenceSession(str(folder / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    onnx_labels = session.run(None, {"input": x_test.astype(np.float32)})[0].ravel()
    agreement = float(np.mean(onnx_labels == y_pred))
    if agreement < 0.999:
        raise SystemExit(f"ONNX export disagrees with scikit-learn on "
                         f"{(1 - agreement):.2%} of {len(y_pred)} test labels")
    return TrainedModel(folder, x_test, y_pred, float(np.mean(y_pred == y_test)), fit_s,
                        agreement)


def split_body(x: np.ndarray, key: str) -> bytes:
    """``{key: {"columns", "index", "data"}}`` (pandas split orientation) as JSON bytes."""
    table = {"columns": FEATURES, "index": list(range(len(x))), "data": x.tolist()}
    return json.dumps({key: table}).encode()


# -- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, summed."""
    total = 0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def pin_tree(pid: int, cpus: list[int]) -> None:
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.cpu_affinity(cpus)


def stop_tree(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a process, wait for it, then SIGKILL whatever of its tree is left."""
    procs = process_tree(pid)
    if not procs:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        procs[0].terminate()
    _, alive = psutil.wait_procs(procs[:1], timeout=timeout)
    _, alive = psutil.wait_procs(procs[1:] + alive, timeout=min(timeout, 5.0))
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5.0)


def wait_http(url: str, deadline_s: float, alive: Callable[[], bool],
              headers: dict[str, str] | None = None, data: bytes | None = None) -> float:
    """Poll ``url`` until it answers 200; seconds waited. Fails if ``alive()`` turns False."""
    started = time.perf_counter()
    last = "no answer yet"
    while time.perf_counter() - started < deadline_s:
        if not alive():
            raise RuntimeError(f"server exited while waiting for {url} ({last})")
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, OSError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {deadline_s:.0f} s ({last})")


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


@dataclass
class Target:
    """One way of calling one server: where to send, what headers, which bodies."""

    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]
    bodies: dict[int, bytes]  # rows -> body
    server_pid: Callable[[], int]
    ping_path: str | None = None

    @property
    def scenarios(self) -> tuple[str, ...]:
        return (*SCENARIOS, PING) if self.ping_path else SCENARIOS

    def request(self, scenario: str) -> bytes:
        if scenario == PING:
            assert self.ping_path is not None
            return build_request(self.host, self.port, "GET", self.ping_path, b"", self.headers)
        rows, _ = scenario_shape(scenario)
        headers = {"Content-Type": "application/json", **self.headers}
        return build_request(self.host, self.port, "POST", self.path, self.bodies[rows],
                             headers)

    def labels(self, rows: int) -> list[int]:
        answer = post_json(f"http://{self.host}:{self.port}{self.path}", self.bodies[rows],
                           self.headers)
        predictions = answer["predictions"] if isinstance(answer, dict) else answer
        return [int(v) for v in predictions]


class MlflowServer:
    """``mlflow models serve`` over the model folder, in its own process group."""

    def __init__(self, folder: Path, work: Path, pin: bool) -> None:
        self.port = free_port()
        bindir = Path(sys.executable).parent
        mlflow_cli = bindir / "mlflow"
        command = ([str(mlflow_cli)] if mlflow_cli.exists()
                   else [sys.executable, "-m", "mlflow"])
        command += ["models", "serve", "-m", str(folder), "--env-manager", "local",
                    "-h", "127.0.0.1", "-p", str(self.port), "-w", "1"]
        if pin:
            command = ["taskset", "-c", "0", *command]
        env = dict(os.environ)
        env.update({
            # the scoring server is started as `uvicorn ...` by name: it must be on PATH
            "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": (work / "mlruns").as_uri(),
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "PYTHONUNBUFFERED": "1",
        })
        self.log = work / "mlflow-serve.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.ready_s = wait_http(f"http://127.0.0.1:{self.port}/ping", 180,
                                     lambda: self.proc.poll() is None)
        except RuntimeError as exc:
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n--- {self.log} ---\n{tail}") from exc

    def target(self, bodies: dict[int, bytes]) -> Target:
        return Target(MLFLOW, "127.0.0.1", self.port, "/invocations", {}, bodies,
                      lambda: self.proc.pid, ping_path="/ping")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


class LakeworksEndpoint:
    """A managed online endpoint in a temporary workspace, created through the SDK."""

    def __init__(self, folder: Path, work: Path, pin: bool, body_1row: bytes) -> None:
        from lakeworks.services.workspace import create_workspace

        self.root = work / "ws"
        create_workspace(self.root).close()
        self.pid = 0
        started = time.perf_counter()
        try:
            self._deploy(folder, body_1row)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.perf_counter() - started
        if pin:  # workers started later (restarts) inherit the front process's affinity
            pin_tree(self.pid, [0])

    def _deploy(self, folder: Path, body_1row: bytes) -> None:
        # The Azure ML SDK v2 code, with `azure.ai.ml` changed to `lakeworks`.
        from lakeworks import MLClient
        from lakeworks.entities import (
            ManagedOnlineDeployment,
            ManagedOnlineEndpoint,
            Model,
            OnlineRequestSettings,
        )

        ml_client = MLClient(workspace=self.root)
        model = ml_client.models.create_or_update(
            Model(name=MODEL_NAME, path=str(folder), type="mlflow_model"))
        endpoint = ManagedOnlineEndpoint(name=ENDPOINT, auth_mode="key",
                                         description="serving benchmark")
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
        self.pid = self._server_pid()  # the server may start with the endpoint
        deployment = ManagedOnlineDeployment(
            name="blue", endpoint_name=ENDPOINT, model=model,
            instance_type="Standard_DS3_v2", instance_count=1,
            request_settings=OnlineRequestSettings(max_concurrent_requests_per_instance=32))
        ml_client.online_deployments.begin_create_or_update(deployment).result()
        endpoint.traffic = {"blue": 100}
        ml_client.online_endpoints.begin_create_or_update(endpoint).result()
        keys = ml_client.online_endpoints.get_keys(name=ENDPOINT)
        self.key = str(getattr(keys, "primary_key", "") or "")  # key auth: EndpointAuthKeys
        self.scoring_uri = str(ml_client.online_endpoints.get(name=ENDPOINT).scoring_uri or "")
        if not self.key or not self.scoring_uri:
            raise RuntimeError(f"endpoint {ENDPOINT!r} has no primary key ({keys!r}) or no "
                               f"scoring_uri ({self.scoring_uri!r})")
        self.pid = self._server_pid()
        if not self.pid:
            raise RuntimeError(f"no serving process found in {self._server_file()} "
                               "after creating the endpoint")
        wait_http(self.scoring_uri, 180, lambda: psutil.pid_exists(self.pid),
                  headers={"Authorization": f"Bearer {self.key}",
                           "Content-Type": "application/json"},
                  data=body_1row)

    def _server_file(self) -> Path:
        return self.root / ".lakeworks" / "serving" / "server.json"

    def _server_pid(self) -> int:
        try:
            return int(json.loads(self._server_file().read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return 0

    def targets(self, bodies: dict[str, dict[int, bytes]]) -> list[Target]:
        parts = urlsplit(self.scoring_uri)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        base = parts.path.rsplit("/", 1)[0]
        auth = {"Authorization": f"Bearer {self.key}"}
        return [
            Target(LW_INVOCATIONS, host, port, f"{base}/invocations", auth, bodies["mlflow"],
                   lambda: self.pid, ping_path=f"{base}/ping"),
            Target(LW_SCORE, host, port, parts.path, auth, bodies["azure"], lambda: self.pid),
        ]

    def stop(self) -> None:
        pid = self.pid or self._server_pid()
        if pid:
            stop_tree(pid)


# -- measuring -------------------------------------------------------------------------------
def scenario_shape(name: str) -> tuple[int, int]:
    """(rows per request, concurrency) of a scenario name."""
    rows, conc = name.split("-")
    count = 1 if rows in ("1row", "ping") else int(rows.removesuffix("rows"))
    return count, int(conc[1:])


def measure(target: Target, scenario: str, duration: float, quick: bool) -> LoadResult:
    rows, concurrency = scenario_shape(scenario)
    return run_load(target.host, target.port, target.request(scenario),
                    concurrency=concurrency, duration=duration, rows=rows,
                    warmup=0.5 if quick else 2.0)


def check_answers(target: Target, expected: np.ndarray) -> int:
    """How many of the 1000 test rows' labels differ from scikit-learn's."""
    got = np.asarray(target.labels(1000))
    if got.shape != expected.shape:
        raise RuntimeError(f"{target.name} answered {got.shape} labels for "
                           f"{expected.shape[0]} rows")
    return int(np.sum(got != expected))


@dataclass
class Soak:
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)
    rss_start: int = 0
    rss_end: int = 0
    rss_max: int = 0
    processes: int = 0
    processes_end: int = 0  # differs from processes if a worker was restarted

    @property
    def growth(self) -> float:
        return (self.rss_end - self.rss_start) / self.rss_start if self.rss_start else 0.0


def soak(target: Target, seconds: float, quick: bool) -> Soak:
    """``seconds`` at concurrency 16 (one row), RSS of the server tree sampled meanwhile."""
    pid = target.server_pid()
    request = target.request("1row-c16")
    run_load(target.host, target.port, request, concurrency=16,
             duration=1.0 if quick else 5.0)  # warm-up
    out = Soak(seconds, rss_start=tree_rss(pid), processes=len(process_tree(pid)))
    out.rss_max = out.rss_start
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            out.rss_max = max(out.rss_max, tree_rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run_load(target.host, target.port, request, concurrency=16, duration=seconds)
    finally:
        stop.set()
        sampler.join()
    out.rss_end = tree_rss(pid)
    out.processes_end = len(process_tree(pid))
    out.rss_max = max(out.rss_max, out.rss_end)
    out.result = result.summary()
    return out


def run_rounds(targets: list[Target], rounds: int, duration: float,
               quick: bool) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every target x scenario, ``rounds`` times; servers alternate who goes first."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        t.name: {s: [] for s in t.scenarios} for t in targets}
    for number in range(rounds):
        order = targets if number % 2 == 0 else list(reversed(targets))
        for target in order:
            for scenario in target.scenarios:
                result = measure(target, scenario, duration, quick)
                summary = {**result.summary(), "round": number + 1,
                           "load1": round(os.getloadavg()[0], 2)}
                runs[target.name][scenario].append(summary)
                print(f"  round {number + 1} {target.name:22} {scenario:12} "
                      f"{result.req_s:8.1f} req/s {result.rows_s:10.0f} rows/s "
                      f"p50 {result.p50_ms:7.2f} ms p99 {result.p99_ms:7.2f} ms "
                      f"errors {result.errors} client {result.client_cpu_us_per_request:.0f} "
                      f"us/req", flush=True)
    return runs


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("req_s", "rows_s", "p50_ms", "p99_ms", "client_cpu_us_per_request")
    out = {k: float(statistics.median(r[k] for r in runs)) for k in keys}
    out["req_s_min"] = min(r["req_s"] for r in runs)
    out["req_s_max"] = max(r["req_s"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    return out


# -- report ----------------------------------------------------------------------------------
def goals(table: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """The issue's goals for each Lakeworks form that was measured."""
    out: list[dict[str, Any]] = []
    for name in (LW_INVOCATIONS, LW_SCORE):
        if name not in table:
            continue
        lw = table[name]
        out.append({"target": name, "goal": "p50 one row c=1 < 1 ms",
                    "value": lw["1row-c1"]["p50_ms"], "unit": "ms",
                    "met": lw["1row-c1"]["p50_ms"] < 1.0})
        if MLFLOW not in table:
            continue
        ml = table[MLFLOW]
        ratio = lw["1row-c16"]["req_s"] / ml["1row-c16"]["req_s"]
        out.append({"target": name, "goal": "req/s one row c=16 >= 5x MLflow",
                    "value": ratio, "unit": "x", "met": ratio >= 5})
        out.append({"target": name, "goal": "p99 one row c=16 < MLflow p50",
                    "value": lw["1row-c16"]["p99_ms"], "unit": "ms",
                    "against": ml["1row-c16"]["p50_ms"],
                    "met": lw["1row-c16"]["p99_ms"] < ml["1row-c16"]["p50_ms"]})
        ratio = lw["1000rows-c1"]["rows_s"] / ml["1000rows-c1"]["rows_s"]
        out.append({"target": name, "goal": "rows/s 1000-row JSON >= 3x MLflow",
                    "value": ratio, "unit": "x", "met": ratio >= 3})
    return out


def print_table(table: dict[str, dict[str, dict[str, float]]], rounds: int) -> None:
    print(f"\nMedians over {rounds} round(s):\n")
    print("| scenario | server | req/s (min-max) | rows/s | p50 ms | p99 ms | errors "
          "| client us/req |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for scenario in (*SCENARIOS, PING):
        for name, by_scenario in table.items():
            if scenario not in by_scenario:
                continue
            m = by_scenario[scenario]
            print(f"| {scenario} | {name} | {m['req_s']:,.0f} ({m['req_s_min']:,.0f}-"
                  f"{m['req_s_max']:,.0f}) | {m['rows_s']:,.0f} | {m['p50_ms']:.2f} | "
                  f"{m['p99_ms']:.2f} | {m['errors']:.0f} | "
                  f"{m['client_cpu_us_per_request']:.0f} |")
    if MLFLOW in table:
        ml = table[MLFLOW]
        for name in (LW_INVOCATIONS, LW_SCORE):
            if name in table:
                lw = table[name]
                print(f"\n{name} / mlflow: "
                      f"1row-c1 req/s {lw['1row-c1']['req_s'] / ml['1row-c1']['req_s']:.1f}x, "
                      f"1row-c16 req/s {lw['1row-c16']['req_s'] / ml['1row-c16']['req_s']:.1f}x,"
                      f" 1000rows-c1 rows/s "
                      f"{lw['1000rows-c1']['rows_s'] / ml['1000rows-c1']['rows_s']:.1f}x")


def print_against_anchor(table: dict[str, dict[str, dict[str, float]]]) -> None:
    lw = table.get(HEADLINE)
    if lw is None:
        return
    c16, rows = ANCHOR["1row-c16"], ANCHOR["1000rows-c1"]
    print(f"\nAgainst the anchor's earlier MLflow medians ({c16['req_s']:.0f} req/s and p50 "
          f"{c16['p50_ms']:.1f} ms at c=16, {rows['rows_s']:,.0f} rows/s, ping-c16 "
          f"{ANCHOR['ping-c16']['req_s']:,.0f} req/s): {HEADLINE} "
          f"{lw['1row-c16']['req_s'] / c16['req_s']:.1f}x req/s at c=16 (p99 "
          f"{lw['1row-c16']['p99_ms']:.2f} ms), "
          f"{lw['1000rows-c1']['rows_s'] / rows['rows_s']:.1f}x rows/s")
    if MLFLOW in table and PING in table[MLFLOW]:
        print(f"MLflow's ping-c16 in this sitting: {table[MLFLOW][PING]['req_s']:,.0f} req/s "
              f"({table[MLFLOW][PING]['req_s'] / ANCHOR['ping-c16']['req_s']:.0%} of the "
              "anchor's), a gauge of how busy the machine was")


def print_goals(found: list[dict[str, Any]]) -> None:
    print("\nGoals (headline: the same /invocations body as MLflow's):")
    for g in found:
        against = f" (MLflow p50 {g['against']:.2f} ms)" if "against" in g else ""
        mark = "MET" if g["met"] else "NOT MET"
        head = " [headline]" if g["target"] == HEADLINE else ""
        print(f"  {g['target']}{head}: {g['goal']}: {g['value']:.2f} {g['unit']}{against} "
              f"-> {mark}")


def print_soak(s: Soak) -> None:
    r = s.result
    ok = r["errors"] == 0 and s.growth < 0.10
    print(f"\nSoak ({LW_SCORE}, {s.seconds:.0f} s, c=16): {r['requests']:,} requests, "
          f"{r['req_s']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
          f"errors {r['errors']} {r['statuses']}; RSS of {s.processes} server processes "
          f"({s.processes_end} at the end) "
          f"{s.rss_start / 2**20:.1f} -> {s.rss_end / 2**20:.1f} MiB (max "
          f"{s.rss_max / 2**20:.1f}), growth {s.growth:+.1%} -> "
          f"{'MET' if ok else 'NOT MET'} (zero errors, growth < 10 %)")


# -- main ------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per scenario and round (after a warm-up)")
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 round, 2 s per scenario, 5 s soak")
    parser.add_argument("--pin", action="store_true",
                        help="servers on CPU 0, this client on CPU 1 (as the anchor)")
    parser.add_argument("--only", choices=("all", "mlflow", "lakeworks"), default="all")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", type=Path,
                        help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.soak_seconds = 1, 2.0, 5.0
    return args


def environment() -> dict[str, str]:
    import mlflow
    import onnxruntime
    import sklearn

    import lakeworks

    return {"python": platform.python_version(), "lakeworks": lakeworks.__version__,
            "mlflow": mlflow.__version__,
            "scikit-learn": sklearn.__version__, "onnxruntime": onnxruntime.__version__,
            "client_loop": event_loop_name(), "cpus": str(os.cpu_count()),
            "machine": platform.machine()}


@contextlib.contextmanager
def measuring_flag() -> Iterator[None]:
    """Mark the machine as busy measuring while servers run (removed only if ours).

    If another measurement holds the mark, wait for it (up to ten minutes) first.
    """
    waited = time.monotonic()
    if FLAG.exists():
        print(f"{FLAG} exists: another measurement is running; waiting for it", flush=True)
    created = False
    while not created and time.monotonic() - waited < 600:
        try:
            FLAG.touch(exist_ok=False)
            created = True
        except FileExistsError:
            time.sleep(2)
    if not created:
        print(f"note: {FLAG} still exists after 10 minutes; measuring anyway")
    try:
        yield
    finally:
        if created:
            FLAG.unlink(missing_ok=True)


def sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = environment()
    print(f"Serving bench: {env}; rounds {args.rounds}, {args.duration:g} s per scenario, "
          f"pin {args.pin}")
    for stale in ("model", "ws", "mlruns"):  # from an earlier run kept with --keep
        shutil.rmtree(work / stale, ignore_errors=True)
    model = train_and_save(work / "model")
    print(f"model: GradientBoostingClassifier(100) fitted in {model.fit_s:.1f} s, test "
          f"accuracy {model.accuracy:.3f}, ONNX agrees on {model.onnx_agreement:.2%} of "
          f"{len(model.y_pred)} test labels")
    rows = {1: model.x_test[:1], 1000: model.x_test[:1000]}
    bodies = {"mlflow": {n: split_body(x, "dataframe_split") for n, x in rows.items()},
              "azure": {n: split_body(x, "input_data") for n, x in rows.items()}}
    print(f"bodies: 1 row {len(bodies['mlflow'][1])} B, 1000 rows "
          f"{len(bodies['mlflow'][1000]) / 1000:.0f} KB (dataframe_split)")
    servers: list[MlflowServer | LakeworksEndpoint] = []
    out: dict[str, Any] = {"environment": env, "args": {k: str(v) for k, v in
                                                        vars(args).items()}}
    with measuring_flag():
        try:
            targets: list[Target] = []
            if args.only in ("all", "mlflow"):
                mlflow_server = MlflowServer(model.folder, work, args.pin)
                servers.append(mlflow_server)
                targets.append(mlflow_server.target(bodies["mlflow"]))
                print(f"mlflow models serve ready in {mlflow_server.ready_s:.1f} s "
                      f"(port {mlflow_server.port})")
            if args.only in ("all", "lakeworks"):
                endpoint = LakeworksEndpoint(model.folder, work, args.pin,
                                             bodies["azure"][1])
                servers.append(endpoint)
                targets.extend(endpoint.targets(bodies))
                print(f"Lakeworks endpoint ready in {endpoint.ready_s:.1f} s "
                      f"({endpoint.scoring_uri})")
            if args.pin:
                os.sched_setaffinity(0, {1})
                for target in targets:
                    cpus = {tuple(sorted(p.cpu_affinity())) for p in
                            process_tree(target.server_pid())}
                    print(f"pinned: {target.name} server processes on CPUs {sorted(cpus)}, "
                          f"client on {sorted(os.sched_getaffinity(0))}")
            out["label_mismatches"] = {t.name: check_answers(t, model.y_pred[:1000])
                                       for t in targets}
            print(f"labels differing from scikit-learn on 1000 test rows: "
                  f"{out['label_mismatches']}")
            out["load_before"] = os.getloadavg()
            runs = run_rounds(targets, args.rounds, args.duration, args.quick)
            table = {name: {s: medians(r) for s, r in by.items()} for name, by in runs.items()}
            out.update(runs=runs, medians=table, goals=goals(table))
            print_table(table, args.rounds)
            print_goals(out["goals"])
            print_against_anchor(table)
            lw_score = [t for t in targets if t.name == LW_SCORE]
            if lw_score and args.soak_seconds > 0:
                result = soak(lw_score[0], args.soak_seconds, args.quick)
                out["soak"] = {**result.result, "rss_start": result.rss_start,
                               "rss_end": result.rss_end, "rss_max": result.rss_max,
                               "growth": result.growth, "processes": result.processes,
                               "processes_end": result.processes_end}
                print_soak(result)
            out["load_after"] = os.getloadavg()
            load = out["load_after"]
            print(f"\nLoad average (1, 5, 15 min) after the run: {load[0]:.1f}, {load[1]:.1f},"
                  f" {load[2]:.1f}")
        finally:
            for server in reversed(servers):
                server.stop()
    return out


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, sigterm_to_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        out = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="lakeworks-serving-bench-") as tmp:
            out = run(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
