"""AutoML at a 60 s budget: Lakeworks (ONNX-compatible models only) against FLAML and AutoGluon.

Every tool gets the same seeded 75/25 split of each data set (stratified for classification),
the same budget and the same machine, in the same run; each fit runs in a fresh process of its
own (the anchors may live in another virtualenv: ``--anchor-python``) and is timed from the
start of the fit call to the fitted model. The held-out score is ROC AUC for the binary sets
and R² for the regression sets; each tool is told that metric (Lakeworks ``AUC_weighted`` /
``r2_score``, FLAML ``roc_auc`` / ``r2``, AutoGluon ``roc_auc`` / ``r2``). Lakeworks is scored
with its exported ONNX model (onnxruntime), as it would be deployed.

Tools:
- Lakeworks ``run_automl``: ``enable_onnx_compatible_models=True``, ``max_concurrent_trials=2``
  (the machine's cores), other settings at their defaults.
- FLAML ``AutoML().fit(time_budget=budget)``: defaults (all cores per trial).
- AutoGluon ``TabularPredictor(...).fit(time_limit=budget)``: the default preset
  (``medium_quality``).

Run: ``python benches/automl_bench.py --anchor-python .bench/automl-anchors/bin/python``
(``--budget 60 --datasets bike,attrition --repeats 1``). The anchors' environment:
``python -m venv .bench/automl-anchors && .bench/automl-anchors/bin/pip install
'flaml[automl]' autogluon.tabular`` (a separate environment because AutoGluon pins an older
pandas than the project's).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "lakeworks" / "sample_data"
TOOLS = ("lakeworks", "flaml", "autogluon")
#: name -> (task, target column, positive label for AUC or None for regression)
DATASETS: dict[str, tuple[str, str, Any]] = {
    "bike": ("regression", "rentals", None),
    "attrition": ("classification", "Attrition", "Yes"),
    "credit": ("classification", "default payment next month", 1),
    "diabetes": ("regression", "target", None),
    "breast_cancer": ("classification", "target", 1),
    "wine": ("classification", "class_0", 1),
}


def load(name: str) -> Any:
    """The data set as one pandas frame, target included."""
    import pandas as pd
    from sklearn import datasets

    if name == "bike":
        return pd.read_csv(DATA / "bike-rentals-daily" / "bike-rentals-daily.csv").drop(
            columns="dteday")
    if name == "attrition":
        return pd.read_csv(DATA / "ibm-hr-attrition" / "ibm-hr-attrition.csv")
    if name == "credit":
        frame = pd.read_csv(DATA / "credit-card-default" / "default_of_credit_card_clients.csv",
                            header=1)
        return frame.drop(columns="ID")
    if name == "diabetes":
        return datasets.load_diabetes(as_frame=True).frame
    if name == "breast_cancer":
        return datasets.load_breast_cancer(as_frame=True).frame
    frame = datasets.load_wine(as_frame=True).frame
    frame["class_0"] = (frame.pop("target") == 0).astype(int)
    return frame


def split(name: str) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    task, target, _ = DATASETS[name]
    frame = load(name)
    strat = frame[target] if task == "classification" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=strat)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def score(name: str, truth: Any, pred: Any) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    task, _, positive = DATASETS[name]
    if task == "regression":
        return float(r2_score(truth, pred))
    return float(roc_auc_score((truth == positive).astype(int), pred))


# -- one fit, in its own process --------------------------------------------------------------

def fit_lakeworks(name: str, train: Any, test: Any, budget: float, seed: int,
                  extra: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from lakeworks.adapters.automl import predict_onnx, predict_proba_onnx, run_automl
    from lakeworks.core.automl import automl_spec

    task, target, positive = DATASETS[name]
    spec = automl_spec({
        "task": task, "target_column_name": target,
        "primary_metric": "AUC_weighted" if task == "classification" else "r2_score",
        "limits": {"timeout_minutes": budget / 60, "max_concurrent_trials": 2,
                   **extra.get("limits", {})},
        "training": {"enable_onnx_compatible_models": True}, "seed": seed})
    started = time.perf_counter()
    outcome = run_automl(train, spec)
    wall = time.perf_counter() - started
    features = test.drop(columns=[target])
    assert outcome.onnx_model is not None, "no ONNX model"
    if task == "classification":
        classes = list(outcome.model.classes_)
        pred = predict_proba_onnx(outcome.onnx_model, features)[:, classes.index(positive)]
    else:
        pred = predict_onnx(outcome.onnx_model, features)
    done = [t for t in outcome.trials if t.status == "Completed"]
    return {"score": score(name, test[target], np.asarray(pred)), "wall": wall,
            "models": len(done), "best": outcome.best.algorithm,
            "stop": f"{outcome.stop_reason}, ONNX error {outcome.onnx_max_relative_error:.1e}"}


def fit_flaml(name: str, train: Any, test: Any, budget: float, seed: int,
              extra: dict[str, Any]) -> dict[str, Any]:
    from flaml import AutoML

    task, target, positive = DATASETS[name]
    automl = AutoML()
    X, y = train.drop(columns=[target]), train[target]
    started = time.perf_counter()
    automl.fit(X, y, task=task, time_budget=budget,
               metric="roc_auc" if task == "classification" else "r2", seed=seed, verbose=0)
    wall = time.perf_counter() - started
    features = test.drop(columns=[target])
    if task == "classification":
        classes = list(automl.classes_)
        pred = automl.predict_proba(features)[:, classes.index(positive)]
    else:
        pred = automl.predict(features)
    return {"score": score(name, test[target], pred), "wall": wall,
            "models": len(getattr(automl, "config_history", {}) or {}), "best": automl.best_estimator,
            "stop": ""}


def fit_autogluon(name: str, train: Any, test: Any, budget: float, seed: int,
                  extra: dict[str, Any]) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    task, target, positive = DATASETS[name]
    with tempfile.TemporaryDirectory() as folder:
        predictor = TabularPredictor(
            label=target, eval_metric="roc_auc" if task == "classification" else "r2",
            path=folder, verbosity=0,
            problem_type="binary" if task == "classification" else "regression")
        started = time.perf_counter()
        predictor.fit(train, time_limit=budget)
        wall = time.perf_counter() - started
        features = test.drop(columns=[target])
        if task == "classification":
            pred = predictor.predict_proba(features)[positive]
        else:
            pred = predictor.predict(features)
        board = predictor.leaderboard(silent=True)
        return {"score": score(name, test[target], pred), "wall": wall, "models": len(board),
                "best": str(predictor.model_best), "stop": ""}


def run_one(tool: str, name: str, budget: float, seed: int,
            extra: dict[str, Any]) -> dict[str, Any]:
    train, test = split(name)
    fit = {"lakeworks": fit_lakeworks, "flaml": fit_flaml, "autogluon": fit_autogluon}[tool]
    return fit(name, train, test, budget, seed, extra)


# -- the driver -------------------------------------------------------------------------------

def _child(python: str, tool: str, name: str, budget: float, seed: int,
           extra: str) -> dict[str, Any]:
    command = [python, __file__, "--one", tool, name, "--budget", str(budget),
               "--seed", str(seed), "--lakeworks-settings", extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget * 4 + 120,
                          cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-1500:]
        print(f"  {tool} on {name} failed:\n{tail}", file=sys.stderr)
        return {"score": math.nan, "wall": math.nan, "models": 0, "best": "failed", "stop": ""}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _versions(python: str, modules: list[str]) -> str:
    code = ("import importlib.metadata as m, sys\n"
            "for n in sys.argv[1:]:\n"
            "    try: print(n, m.version(n))\n"
            "    except m.PackageNotFoundError: print(n, '-')")
    out = subprocess.run([python, "-c", code, *modules], capture_output=True, text=True)
    return ", ".join(out.stdout.split("\n")).strip(", ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per fit")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--anchor-python", default=sys.executable,
                        help="the interpreter that has FLAML and AutoGluon")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lakeworks-settings", default="{}",
                        help='JSON merged into the Lakeworks spec, e.g. {"limits": {...}}')
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        extra = json.loads(args.lakeworks_settings)
        print(json.dumps(run_one(args.one[0], args.one[1], args.budget, args.seed, extra)))
        return
    tools = args.tools.split(",")
    names = args.datasets.split(",")
    print("versions:", _versions(sys.executable, ["scikit-learn", "lightgbm", "xgboost",
                                                  "optuna", "skl2onnx", "onnxruntime"]))
    print("anchors: ", _versions(args.anchor_python, ["flaml", "autogluon.tabular",
                                                      "lightgbm", "xgboost", "catboost"]))
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in names:
        for repeat in range(args.repeats):
            for tool in tools:
                python = sys.executable if tool == "lakeworks" else args.anchor_python
                r = _child(python, tool, name, args.budget, args.seed + repeat,
                           args.lakeworks_settings)
                results.setdefault((name, tool), []).append(r)
                print(f"  {name:13s} {tool:9s} score {r['score']:.4f} wall {r['wall']:6.1f} s "
                      f"models {r['models']:3d} best {r['best']} {r['stop']}", flush=True)
    report(results, names, tools, args)


def report(results: dict[tuple[str, str], list[dict[str, Any]]], names: list[str],
           tools: list[str], args: argparse.Namespace) -> None:
    def mean(name: str, tool: str, key: str) -> float:  # the median of the repeats
        return statistics.median(r[key] for r in results[(name, tool)])

    def spread(name: str, tool: str) -> str:
        values = [r["score"] for r in results[(name, tool)]]
        return f"{min(values):.4f}-{max(values):.4f}" if len(values) > 1 else ""

    head = "| data set (metric) | " + " | ".join(f"{t} score" for t in tools) + " | " + \
        " | ".join(f"{t} wall (s)" for t in tools) + " |"
    print(f"\nbudget {args.budget:.0f} s, {args.repeats} repeat(s), median of repeats\n")
    print(head)
    print("| --- |" + " ---: |" * (2 * len(tools)))
    ranks: dict[str, list[float]] = {t: [] for t in tools}
    ratios: list[float] = []
    for name in names:
        scores = {t: mean(name, t, "score") for t in tools}
        for tool in tools:  # ties share the mean of their places; a failed fit ranks last
            mine = scores[tool] if not math.isnan(scores[tool]) else -math.inf
            others = [scores[t] if not math.isnan(scores[t]) else -math.inf for t in tools]
            ranks[tool].append(1 + sum(o > mine for o in others)
                               + (sum(o == mine for o in others) - 1) / 2)
        best = max(scores.values())
        cells = [f"**{scores[t]:.4f}**" if scores[t] == best else f"{scores[t]:.4f}"
                 for t in tools]
        walls = [f"{mean(name, t, 'wall'):.1f}" for t in tools]
        metric = "AUC" if DATASETS[name][0] == "classification" else "R²"
        print(f"| {name} ({metric}) | " + " | ".join(cells + walls) + " |")
        if args.repeats > 1:
            print("|   range of repeats | " + " | ".join(spread(name, t) for t in tools)
                  + " |" + " |" * len(tools))
        anchors = [scores[t] for t in tools if t != "lakeworks"]
        if "lakeworks" in tools and anchors:
            ratios.append(scores["lakeworks"] / max(anchors))
    print()
    for tool in tools:
        print(f"average rank {tool}: {statistics.fmean(ranks[tool]):.2f}")
    if ratios:
        print(f"Lakeworks score / best anchor score: geometric mean "
              f"{math.exp(statistics.fmean(math.log(r) for r in ratios if r > 0)):.4f}")


if __name__ == "__main__":
    main()
