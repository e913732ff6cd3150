"""Pipeline overhead: 10 chained no-op Python steps, Lakeworks against Metaflow's local runtime.

Measures, in one run and on the same machine:

* Lakeworks, cold: a pipeline of 10 chained steps (each a ``python -c`` that reads its input
  folder and writes its output folder) in the current environment, every step executed
  (``force_rerun``), from ``jobs.create_or_update`` to status Completed. The workspace's
  tracking server is already running (it is started once per workspace and stays up).
* Lakeworks, first job of a fresh workspace: the same, including starting the tracking server.
* Lakeworks, reused: the same pipeline submitted again unchanged; every step is reused.
* Metaflow: the same 10-step linear flow with ``python flow.py run`` (local runtime, local
  datastore), wall time of the whole command.
* ``lakeworks --help`` wall time.

Run:  python benches/pipeline_bench.py [--repeats 5]
Needs metaflow (``pip install -e '.[bench]'``). Prints medians and ratios as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

from lakeworks import Input, MLClient, Output, command, dsl
from lakeworks.services.web import stop_server
from lakeworks.services.workspace import create_workspace

STEPS = 10
STEP_CODE = "import os, sys; os.listdir(sys.argv[1]) if len(sys.argv) > 2 else None"


def build_pipeline():  # type: ignore[no-untyped-def]
    first = command(
        command=f'python -c "{STEP_CODE}" ${{{{outputs.out}}}}',
        outputs={"out": Output()},
    )
    step = command(
        command=f'python -c "{STEP_CODE}" ${{{{inputs.src}}}} ${{{{outputs.out}}}}',
        inputs={"src": Input(type="uri_folder")},
        outputs={"out": Output()},
    )

    @dsl.pipeline(experiment_name="bench")
    def chain():  # type: ignore[no-untyped-def]
        node = first()
        for _ in range(STEPS - 1):
            node = step(src=node.outputs.out)

    return chain


def wait(ml: MLClient, name: str) -> str:
    while True:
        job = ml.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled", "NotResponding"):
            return str(job.status)
        time.sleep(0.02)


def run_lakeworks(ml: MLClient, chain, *, force: bool) -> float:  # type: ignore[no-untyped-def]
    job = chain()
    job.settings.force_rerun = force
    start = time.perf_counter()
    submitted = ml.jobs.create_or_update(job)
    status = wait(ml, submitted.name)
    elapsed = time.perf_counter() - start
    if status != "Completed":
        raise SystemExit(f"benchmark job {submitted.name} ended {status}")
    return elapsed


METAFLOW_FLOW = "from metaflow import FlowSpec, step\n\n\nclass ChainFlow(FlowSpec):\n" + "".join(
    textwrap.indent(
        textwrap.dedent(
            f"""
            @step
            def {name}(self):
                self.next(self.{nxt})
            """
        ),
        "    ",
    )
    for name, nxt in zip(
        ["start", *[f"s{i}" for i in range(1, STEPS - 1)]],
        [*[f"s{i}" for i in range(1, STEPS - 1)], "end"],
        strict=True,
    )
) + textwrap.indent(
    textwrap.dedent(
        """
        @step
        def end(self):
            pass
        """
    ),
    "    ",
) + '\n\nif __name__ == "__main__":\n    ChainFlow()\n'


def run_metaflow(folder: Path) -> float:
    env = {**os.environ, "USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "flow.py", "--quiet", "run"], cwd=folder, env=env,
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("metaflow run failed:\n" + done.stderr[-2000:])
    return elapsed


def time_help() -> float:
    exe = shutil.which("lakeworks") or ""
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "lakeworks", "--help"]
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        import metaflow  # noqa: F401
    except ImportError:
        raise SystemExit("metaflow is not installed: pip install -e '.[bench]'") from None

    root = Path(tempfile.mkdtemp(prefix="lakeworks-bench-"))
    chain = build_pipeline()
    fresh, cold, reused, meta, helps = [], [], [], [], []
    try:
        # warm the environment cache once (a one-off per machine, not per run)
        warm_ws = create_workspace(root / "warm")
        run_lakeworks(MLClient(workspace=warm_ws.path), chain, force=True)
        stop_server(warm_ws)
        mf = root / "metaflow"
        mf.mkdir()
        (mf / "flow.py").write_text(METAFLOW_FLOW)
        run_metaflow(mf)  # warm Python's caches for Metaflow too

        for i in range(args.repeats):
            ws = create_workspace(root / f"ws{i}")
            ml = MLClient(workspace=ws.path)
            fresh.append(run_lakeworks(ml, chain, force=True))
            cold.append(run_lakeworks(ml, chain, force=True))
            reused.append(run_lakeworks(ml, chain, force=False))
            stop_server(ws)
            meta.append(run_metaflow(mf))
            helps.append(time_help())
    finally:
        for folder in root.glob("ws*"):
            try:
                from lakeworks.services.workspace import open_workspace

                stop_server(open_workspace(folder))
            except Exception as exc:
                print(f"cleanup of {folder}: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)

    med = statistics.median
    m = med(meta)
    print(f"# pipeline_bench {date.today()} on {platform.node()} "
          f"({os.cpu_count()} CPUs, Python {platform.python_version()}), "
          f"median of {args.repeats} runs\n")
    print("| measurement | median (s) | runs (s) | vs Metaflow |")
    print("| --- | ---: | --- | ---: |")
    rows = [
        ("Lakeworks cold run, tracking server up", cold),
        ("Lakeworks first job in a fresh workspace", fresh),
        ("Lakeworks fully reused rerun", reused),
        ("Metaflow local run", meta),
    ]
    for label, values in rows:
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {label} | {med(values):.2f} | {runs} | {med(values) / m:.2f}x |")
    print(f"| `lakeworks --help` | {med(helps):.3f} | "
          + ", ".join(f"{v:.3f}" for v in helps) + " | |")


if __name__ == "__main__":
    main()
