"""Sweep rules: distributions, sampling checks, YAML and SDK parsing, early termination."""

from __future__ import annotations

import math
import random
import shlex
import textwrap
from pathlib import Path

import pytest

from lakeworks import Output, command, load_job
from lakeworks.core.assets import ComponentSpec
from lakeworks.core.search_space import (
    ChoiceSpec,
    LogNormalSpec,
    LogUniformSpec,
    NormalSpec,
    QLogUniformSpec,
    QNormalSpec,
    QUniformSpec,
    RandintSpec,
    UniformSpec,
    dimension,
    distribution_from,
    input_type,
    quantise,
    value_of,
)
from lakeworks.core.sweep import (
    ObjectiveSpec,
    SamplingSpec,
    SweepLimits,
    SweepPlan,
    best_of,
    limits_from,
    sweep_plan,
)
from lakeworks.core.sweep_policies import (
    BanditSpec,
    MedianStoppingSpec,
    TruncationSelectionSpec,
    policy_from,
    termination_reason,
)
from lakeworks.errors import InvalidInputError
from lakeworks.sweep import (
    BanditPolicy,
    Choice,
    GridSamplingAlgorithm,
    LogUniform,
    MedianStoppingPolicy,
    Normal,
    QUniform,
    Randint,
    RandomSamplingAlgorithm,
    SweepJob,
    TruncationSelectionPolicy,
    Uniform,
)

# -- distributions ----------------------------------------------------------------------------


def draw(dist, n: int = 400, seed: int = 7) -> list:  # type: ignore[no-untyped-def]
    """Values of ``dist`` for uniform draws on its dimension (what any sampler does)."""
    rng = random.Random(seed)
    dim = dimension(dist)
    out = []
    for _ in range(n):
        if dim.kind == "categorical":
            raw = rng.choice(dim.values)
        elif dim.kind == "int":
            raw = rng.randint(int(dim.low), int(dim.high))
        elif dim.log:
            raw = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))
        else:
            raw = rng.uniform(dim.low, dim.high)
        out.append(value_of(dist, raw))
    return out


def test_uniform_stays_in_bounds_and_covers_them() -> None:
    values = draw(UniformSpec(min_value=2, max_value=5))
    assert all(2 <= v <= 5 for v in values)
    assert min(values) < 2.2 and max(values) > 4.8


def test_loguniform_ranges_over_exp_of_the_bounds() -> None:
    dist = LogUniformSpec(min_value=-3, max_value=1)
    dim = dimension(dist)
    assert (dim.low, dim.high, dim.log) == (pytest.approx(math.exp(-3)), pytest.approx(math.e), True)
    values = draw(dist)
    assert all(math.exp(-3) <= v <= math.e for v in values)
    # log-uniform: as many values in [e^-3, e^-1] as in [e^-1, e^1]
    low = sum(1 for v in values if v < math.exp(-1))
    assert 150 < low < 250


def test_q_distributions_round_to_multiples_of_q() -> None:
    assert quantise(0.34, 0.1) == 0.3
    assert quantise(7.6, 5) == 10 and isinstance(quantise(7.6, 5), int)
    for v in draw(QUniformSpec(min_value=0, max_value=100, q=10)):
        assert v % 10 == 0 and isinstance(v, int) and 0 <= v <= 100
    for v in draw(QLogUniformSpec(min_value=0, max_value=3, q=0.5)):
        assert (v / 0.5) == pytest.approx(round(v / 0.5))
    assert input_type(QUniformSpec(min_value=0, max_value=1, q=1)).value == "integer"
    assert input_type(QUniformSpec(min_value=0, max_value=1, q=0.25)).value == "number"


def test_randint_upper_bound_is_exclusive() -> None:
    values = draw(RandintSpec(upper=3))
    assert set(values) == {0, 1, 2}
    assert all(isinstance(v, int) for v in values)


def test_normal_family_uses_the_inverse_cdf() -> None:
    values = draw(NormalSpec(mu=10, sigma=2), n=2000)
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert mean == pytest.approx(10, abs=0.2) and sd == pytest.approx(2, abs=0.2)
    assert value_of(NormalSpec(mu=0, sigma=1), 0.0) > -8  # the edge is clamped, not -inf
    logs = draw(LogNormalSpec(mu=0, sigma=1), n=2000)
    assert all(v > 0 for v in logs)
    assert sorted(logs)[1000] == pytest.approx(1.0, abs=0.15)  # median exp(mu)
    assert all(v % 2 == 0 for v in draw(QNormalSpec(mu=0, sigma=10, q=2)))


def test_choice_keeps_value_types_and_infers_the_input_type() -> None:
    dist = ChoiceSpec(values=(1, 2, 3))
    assert set(draw(dist)) == {1, 2, 3}
    assert input_type(dist).value == "integer"
    assert input_type(ChoiceSpec(values=(0.1, 1))).value == "number"
    assert input_type(ChoiceSpec(values=(True, False))).value == "boolean"
    assert input_type(ChoiceSpec(values=("gini", 2))).value == "string"


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "uniform", "min_value": 3, "max_value": 1}, "must be below"),
    ({"type": "quniform", "min_value": 0, "max_value": 1, "q": 0}, "greater than 0"),
    ({"type": "normal", "mu": 0, "sigma": -1}, "greater than 0"),
    ({"type": "randint", "upper": 0}, "greater than or equal to 1"),
    ({"type": "choice", "values": []}, "at least 1"),
    ({"type": "uniform", "min_value": 0}, "max_value"),
])
def test_bad_distributions_are_refused_naming_the_field(data: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as err:
        distribution_from(data, "search_space.lr")
    assert err.value.field is not None and err.value.field.startswith("search_space.lr")


def test_unknown_distribution_type_names_the_field_and_the_types() -> None:
    with pytest.raises(InvalidInputError) as err:
        distribution_from({"type": "gaussian", "mu": 0}, "search_space.lr")
    assert err.value.field == "search_space.lr.type"
    assert err.value.allowed is not None and "normal" in err.value.allowed


# -- sampling, objective, limits --------------------------------------------------------------


def trial(command_line: str = "python t.py ${{inputs.lr}}") -> ComponentSpec:
    return ComponentSpec(name="t", command=command_line)


def plan(space: dict, **kwargs) -> SweepPlan:  # type: ignore[no-untyped-def]
    return sweep_plan(
        trial(kwargs.pop("command", "python t.py ${{inputs.lr}}")), space,
        ObjectiveSpec(primary_metric="acc", goal="maximize"),
        kwargs.pop("sampling", SamplingSpec()), SweepLimits(), kwargs.pop("policy", None),
    )


def test_grid_accepts_only_choice() -> None:
    assert plan({"lr": ChoiceSpec(values=(1, 2))}, sampling=SamplingSpec(type="grid")).grid_size == 2
    with pytest.raises(InvalidInputError, match="grid sampling does not support 'uniform'") as e:
        plan({"lr": UniformSpec(min_value=0, max_value=1)}, sampling=SamplingSpec(type="grid"))
    assert e.value.field == "search_space.lr"


def test_bayesian_supports_no_early_termination_and_few_distributions() -> None:
    with pytest.raises(InvalidInputError, match="no early termination") as e:
        plan({"lr": UniformSpec(min_value=0, max_value=1)},
             sampling=SamplingSpec(type="bayesian"), policy=MedianStoppingSpec())
    assert e.value.field == "early_termination"
    with pytest.raises(InvalidInputError, match="bayesian sampling does not support 'normal'"):
        plan({"lr": NormalSpec(mu=0, sigma=1)}, sampling=SamplingSpec(type="bayesian"))


def test_search_space_references_are_rewritten_and_checked() -> None:
    p = plan({"lr": UniformSpec(min_value=0, max_value=1)},
             command="python t.py ${{search_space.lr}}")
    assert p.trial_command == "python t.py ${{inputs.lr}}"
    assert p.trial_inputs["lr"].type.value == "number"
    with pytest.raises(InvalidInputError, match=r"search_space\.depth"):
        plan({"lr": UniformSpec(min_value=0, max_value=1)},
             command="python t.py ${{search_space.depth}}")
    with pytest.raises(InvalidInputError, match="neither an input nor in the search space"):
        plan({"lr": UniformSpec(min_value=0, max_value=1)}, command="python t.py ${{inputs.x}}")
    with pytest.raises(InvalidInputError, match="needs a search space"):
        plan({})


def test_limits_defaults_and_concurrency() -> None:
    limits = SweepLimits()
    assert (limits.max_total_trials, limits.timeout, limits.trial_timeout) == (1000, 5184000, None)
    assert limits.concurrency == 1000
    assert limits_from({"max_total_trials": 4, "max_concurrent_trials": 9}).concurrency == 4
    with pytest.raises(InvalidInputError, match=r"limits\.max_total_trials"):
        limits_from({"max_total_trials": 0})


def test_best_of_follows_the_goal() -> None:
    scores = {"a": 0.5, "b": 0.9, "c": 0.9, "d": float("nan")}
    assert best_of("maximize", scores) == "b"
    assert best_of("minimize", scores) == "a"
    assert best_of("maximize", {}) is None


# -- the SDK ----------------------------------------------------------------------------------


def test_command_with_distribution_inputs_sweeps() -> None:
    job = command(command="python t.py --lr ${{inputs.lr}} --n ${{inputs.n}} --k ${{inputs.k}}",
                  inputs={"lr": LogUniform(min_value=-5, max_value=-1), "n": 3,
                          "k": Choice([1, 2])}, outputs={"model": Output()})
    assert job.component.inputs["k"].type == "integer"
    sweep = job.sweep(primary_metric="acc", goal="Maximize", sampling_algorithm="random",
                      early_termination_policy=BanditPolicy(slack_factor=0.1))
    sweep.set_limits(max_total_trials=5, max_concurrent_trials=2, trial_timeout=60)
    assert isinstance(sweep, SweepJob) and sorted(sweep.search_space) == ["k", "lr"]
    spec = sweep._to_job_spec()
    assert spec.type == "sweep" and list(spec.steps) == ["main"]
    step = spec.steps["main"]
    assert step.inputs == {"n": 3} and list(step.component.inputs) == ["n"]
    assert list(step.component.outputs) == ["model"]
    words = shlex.split(step.component.command)
    assert words[:4] == ["python", "-m", "lakeworks.sweep_job", "--plan"]
    p = SweepPlan.model_validate_json(words[4])
    assert p.objective.goal == "maximize" and p.limits.concurrency == 2
    assert p.limits.trial_timeout == 60 and isinstance(p.early_termination, BanditSpec)
    assert p.early_termination.evaluation_interval == 1  # Azure's 0 means 1


def test_submitting_a_distribution_without_sweep_says_what_to_do() -> None:
    from lakeworks.client.entities.jobs import command_job_spec

    job = command(command="python t.py ${{inputs.lr}}", inputs={"lr": Uniform(0.1, 0.5)})
    with pytest.raises(InvalidInputError, match=r"call \.sweep"):
        command_job_spec(job)


def test_sdk_objects_turn_into_checked_specs() -> None:
    assert RandomSamplingAlgorithm(rule="sobol", seed=3)._to_spec().rule == "sobol"
    assert GridSamplingAlgorithm()._to_spec().type == "grid"
    assert MedianStoppingPolicy()._to_spec().evaluation_interval == 1
    assert TruncationSelectionPolicy(truncation_percentage=20)._to_spec().evaluation_interval == 1
    with pytest.raises(InvalidInputError, match="exactly one of slack_factor"):
        BanditPolicy()._to_spec()
    with pytest.raises(InvalidInputError, match=r"early_termination\.truncation_percentage"):
        TruncationSelectionPolicy()._to_spec()
    assert QUniform(0, 10, 2)._to_spec("s").q == 2
    assert Randint(upper=4)._to_spec("s").upper == 4
    assert Normal(mu=1, sigma=2)._to_spec("s").sigma == 2
    with pytest.raises(InvalidInputError, match=r"needs objective\.primary_metric"):
        command(command="x ${{inputs.a}}", inputs={"a": Choice([1])}).sweep(
            primary_metric="", goal="maximize")._to_job_spec()


# -- YAML -------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "sweep.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SWEEP_YAML = """
    type: sweep
    trial:
      command: python train.py --lr ${{search_space.lr}} --n ${{inputs.n}}
      code: ./src
    inputs:
      n: 5
    outputs:
      model:
    search_space:
      lr: {type: loguniform, min_value: -6, max_value: -1}
      depth: {type: choice, values: [2, 4]}
    sampling_algorithm: {type: random, seed: 42, rule: sobol}
    objective: {primary_metric: val_acc, goal: maximize}
    limits: {max_total_trials: 6, max_concurrent_trials: 2, timeout: 600}
    early_termination: {type: bandit, slack_amount: 0.05, delay_evaluation: 2}
"""


def test_sweep_yaml_loads(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    job = load_job(write(tmp_path, SWEEP_YAML))
    assert isinstance(job, SweepJob)
    p = job._plan(job.trial._to_spec())
    assert p.sampling == SamplingSpec(type="random", seed=42, rule="sobol")
    assert p.trial_command == "python train.py --lr ${{inputs.lr}} --n ${{inputs.n}}"
    assert isinstance(p.search_space["lr"], LogUniformSpec)
    assert (p.limits.max_total_trials, p.limits.concurrency, p.limits.timeout) == (6, 2, 600)
    assert p.early_termination == BanditSpec(slack_amount=0.05, delay_evaluation=2)
    assert job.trial.code == str(tmp_path / "src")
    assert job.inputs == {"n": 5}


def test_sweep_yaml_with_a_component_file_trial(tmp_path: Path) -> None:
    write(tmp_path, """
        type: command
        name: train
        inputs: {lr: {type: number}, data: {type: uri_folder}}
        outputs: {model: {type: uri_folder}}
        command: python train.py ${{inputs.lr}} ${{inputs.data}} ${{outputs.model}}
    """, "train.yml")
    job = load_job(write(tmp_path, """
        type: sweep
        trial: ./train.yml
        inputs: {data: {type: uri_folder, path: ./data}}
        search_space: {lr: {type: choice, values: [0.1, 0.2]}}
        sampling_algorithm: grid
        objective: {primary_metric: acc, goal: minimize}
    """))
    assert isinstance(job, SweepJob) and job.trial.name == "train"
    assert job._plan(job.trial._to_spec()).sampling.type == "grid"


@pytest.mark.parametrize(("body", "field", "message"), [
    ("lr: {type: gaussian, mu: 0}", "search_space.lr.type", "unknown type 'gaussian'"),
    ("lr: {type: uniform, min_value: 0, max_value: 1}\nsampling_algorithm: grid",
     "search_space.lr", "grid sampling does not support 'uniform'"),
])
def test_sweep_yaml_errors_point_at_the_field(tmp_path: Path, body: str, field: str,
                                              message: str) -> None:
    text = ("type: sweep\ntrial: {command: 'python t.py ${{search_space.lr}}'}\n"
            "objective: {primary_metric: acc, goal: maximize}\nsearch_space:\n  "
            + body.replace("\nsampling", "\nsampling"))
    with pytest.raises(InvalidInputError, match=message) as err:
        load_job(write(tmp_path, text))
    assert err.value.field == field and err.value.line is not None


def test_sweep_yaml_policy_and_objective_errors(tmp_path: Path) -> None:
    base = ("type: sweep\ntrial: {command: 'python t.py ${{search_space.lr}}'}\n"
            "search_space: {lr: {type: uniform, min_value: 0, max_value: 1}}\n")
    with pytest.raises(InvalidInputError, match="no early termination") as err:
        load_job(write(tmp_path, base + "sampling_algorithm: bayesian\n"
                       "objective: {primary_metric: acc, goal: maximize}\n"
                       "early_termination: {type: median_stopping}\n"))
    assert err.value.field == "early_termination" and err.value.line == 6
    with pytest.raises(InvalidInputError, match="primary_metric") as err:
        load_job(write(tmp_path, base + "objective: {goal: maximize}\n"))
    assert err.value.field == "objective.primary_metric"
    with pytest.raises(InvalidInputError, match="early termination type 'hyperband'") as err:
        load_job(write(tmp_path, base + "objective: {primary_metric: a, goal: maximize}\n"
                       "early_termination: {type: hyperband}\n"))
    assert err.value.allowed == ["bandit", "median_stopping", "truncation_selection"]
    with pytest.raises(InvalidInputError, match="unknown field 'max_trials'"):
        load_job(write(tmp_path, base + "objective: {primary_metric: a, goal: maximize}\n"
                       "limits: {max_trials: 3}\n"))


def test_load_job_lists_sweep_among_the_types(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        load_job(write(tmp_path, "type: hyperdrive\ncommand: x\n"))
    assert err.value.allowed is not None and "sweep" in err.value.allowed


def test_pipeline_yaml_with_a_sweep_step(tmp_path: Path) -> None:
    write(tmp_path, """
        type: command
        name: train
        inputs: {lr: {type: number}, data: {type: uri_folder}}
        outputs: {model: {type: uri_folder}}
        command: python train.py ${{inputs.lr}} ${{inputs.data}} ${{outputs.model}}
    """, "train.yml")
    job = load_job(write(tmp_path, """
        type: pipeline
        outputs: {best_model: {type: uri_folder}}
        jobs:
          prep:
            command: python prep.py ${{outputs.out}}
            outputs: {out: {type: uri_folder}}
          sweep_step:
            type: sweep
            trial: ./train.yml
            inputs: {data: "${{parent.jobs.prep.outputs.out}}"}
            outputs: {model: "${{parent.outputs.best_model}}"}
            search_space: {lr: {type: choice, values: [0.1, 0.2]}}
            objective: {primary_metric: acc, goal: maximize}
            limits: {max_total_trials: 2}
    """, "pipeline.yml"))
    spec = job._to_job_spec()
    assert list(spec.steps) == ["prep", "sweep_step"]
    step = spec.steps["sweep_step"]
    assert step.inputs == {"data": "${{parent.jobs.prep.outputs.out}}"}
    assert step.outputs == {"model": "${{parent.outputs.best_model}}"}
    assert step.component.inputs["data"].mode is not None  # data reaches the driver direct
    assert step.component.command.startswith("python -m lakeworks.sweep_job")


# -- early termination ------------------------------------------------------------------------


def stop(policy, goal: str, trial: str, histories: dict, **kw) -> str | None:  # type: ignore[no-untyped-def]
    return termination_reason(policy, goal, trial, histories, **kw)[0]


def test_bandit_slack_factor_and_amount() -> None:
    h = {"best": [0.5, 0.8], "ok": [0.5, 0.7], "poor": [0.5, 0.6]}
    policy = BanditSpec(slack_factor=0.2)  # limit 0.8 / 1.2 = 0.667
    assert stop(policy, "maximize", "ok", h) is None
    assert "bandit policy at interval 2" in (stop(policy, "maximize", "poor", h) or "")
    amount = BanditSpec(slack_amount=0.15)  # limit 0.65
    assert stop(amount, "maximize", "poor", h) is not None
    assert stop(amount, "maximize", "ok", h) is None
    low = {"best": [1.0], "poor": [1.3], "ok": [1.1]}  # minimize: limit 1.0 * 1.2
    assert stop(BanditSpec(slack_factor=0.2), "minimize", "poor", low) is not None
    assert stop(BanditSpec(slack_factor=0.2), "minimize", "ok", low) is None


def test_bandit_respects_delay_and_interval() -> None:
    h = {"best": [0.9, 0.9, 0.9, 0.9], "poor": [0.1, 0.1, 0.1, 0.1]}
    assert stop(BanditSpec(slack_factor=0.1, delay_evaluation=5), "maximize", "poor", h) is None
    reason, judged = termination_reason(BanditSpec(slack_factor=0.1, delay_evaluation=3),
                                        "maximize", "poor", h)
    assert reason is not None and "interval 3" in reason and judged == 3
    every_other = BanditSpec(slack_factor=0.1, evaluation_interval=2)
    assert "interval 2" in (stop(every_other, "maximize", "poor", h) or "")
    assert stop(every_other, "maximize", "poor", h, evaluated=4) is None  # already judged
    # compared only with trials that reached the same interval
    assert stop(BanditSpec(slack_factor=0.1), "maximize", "poor",
                {"best": [0.9], "poor": [0.5, 0.9]}, evaluated=1) is None


def test_median_stopping() -> None:
    h = {"a": [0.8, 0.9], "b": [0.7, 0.8], "c": [0.2, 0.3]}
    policy = MedianStoppingSpec()
    assert stop(policy, "maximize", "c", h) is not None
    assert stop(policy, "maximize", "a", h) is None
    assert stop(policy, "maximize", "c", {"c": [0.2, 0.3]}) is None  # alone: nothing to compare
    assert stop(policy, "minimize", "a", h) is not None


def test_truncation_selection() -> None:
    h = {f"t{i}": [0.1 * i] for i in range(1, 6)}  # t1 worst .. t5 best
    policy = TruncationSelectionSpec(truncation_percentage=20)
    assert stop(policy, "maximize", "t1", h) is not None
    assert stop(policy, "maximize", "t2", h) is None
    assert stop(TruncationSelectionSpec(truncation_percentage=40), "maximize", "t2", h)
    assert stop(policy, "minimize", "t5", h) is not None
    assert stop(policy, "maximize", "t1", {"t1": [0.1], "t2": [0.2]}) is None  # 20% of 2 is 0
    finished = frozenset({"t2", "t3", "t4", "t5"})
    assert stop(TruncationSelectionSpec(truncation_percentage=50, exclude_finished_jobs=True),
                "maximize", "t1", h, finished=finished) is None


def test_policy_yaml_forms() -> None:
    assert policy_from({"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 0}) == \
        BanditSpec(slack_factor=0.1)
    with pytest.raises(InvalidInputError, match="exactly one"):
        policy_from({"type": "bandit", "slack_factor": 0.1, "slack_amount": 0.1})
    with pytest.raises(InvalidInputError, match=r"early_termination\.delay_evaluation"):
        policy_from({"type": "median_stopping", "delay_evaluation": -1})
