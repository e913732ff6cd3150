"""Command and pipeline jobs end to end: real runner processes, real MLflow server, real steps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lakeworks import Input, MLClient, Output, command, dsl
from lakeworks.errors import InvalidInputError, JobFailedError, NotFoundError
from lakeworks.services.jobs import JobService
from lakeworks.services.workspace import Workspace
from lakeworks.testing.wheels import make_wheel


def script(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(textwrap.dedent(body))


def wait_done(ml: MLClient, name: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ml.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled", "NotResponding"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {name} did not finish within {timeout} s")


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.1)


def test_command_job_outputs_logs_and_mlflow(ml_client: MLClient, code_dir: Path,
                                             tmp_path: Path) -> None:
    script(code_dir, "work.py", """
        import os, sys, mlflow
        mlflow.start_run()
        mlflow.log_param("greeting", sys.argv[1])
        mlflow.log_metric("answer", 42.0)
        print("hello from the step", sys.argv[1])
        open(os.path.join(sys.argv[2], "result.txt"), "w").write(sys.argv[1] * 2)
        mlflow.end_run()
    """)
    job = command(
        command="python work.py ${{inputs.word}} ${{outputs.result}}",
        code=code_dir,
        inputs={"word": "hi"},
        outputs={"result": Output(type="uri_folder")},
        experiment_name="it-command",
    )
    submitted = ml_client.jobs.create_or_update(job)
    assert submitted.status in ("Queued", "Preparing", "Running")
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    assert done.metrics == {"answer": 42.0}
    assert done.params == {"greeting": "hi"}
    ml_client.jobs.download(submitted.name, download_path=tmp_path / "dl", output_name="result")
    assert (tmp_path / "dl" / "named-outputs" / "result" / "result.txt").read_text() == "hihi"
    ml_client.jobs.download(submitted.name, download_path=tmp_path / "dl2")
    log = (tmp_path / "dl2" / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert "hello from the step hi" in log


def two_step_pipeline(code_dir: Path):  # type: ignore[no-untyped-def]
    (code_dir / "make").mkdir(exist_ok=True)
    (code_dir / "double").mkdir(exist_ok=True)
    script(code_dir / "make", "make.py", """
        import os, sys
        open(os.path.join(sys.argv[2], "n.txt"), "w").write(sys.argv[1])
    """)
    script(code_dir / "double", "double.py", """
        import os, sys
        n = int(open(os.path.join(sys.argv[1], "n.txt")).read())
        open(os.path.join(sys.argv[3], "n.txt"), "w").write(str(n * 2 + int(sys.argv[2])))
    """)
    make = command(command="python make.py ${{inputs.n}} ${{outputs.out}}", code=code_dir / "make",
                   inputs={"n": Input(type="integer")}, outputs={"out": Output()})
    double = command(command="python double.py ${{inputs.src}} ${{inputs.add}} ${{outputs.out}}",
                     code=code_dir / "double", inputs={"src": Input(type="uri_folder"),
                                            "add": Input(type="integer")},
                     outputs={"out": Output()})

    @dsl.pipeline(experiment_name="it-reuse")
    def flow(n, add):  # type: ignore[no-untyped-def]
        first = make(n=n)
        second = double(src=first.outputs.out, add=add)
        return {"result": second.outputs.out}

    return flow


def steps_of(ml: MLClient, name: str) -> dict[str, object]:
    job = ml.jobs.get(name)
    return {s.step: s for s in job.steps}


def test_rerun_reuses_unchanged_steps(ml_client: MLClient, code_dir: Path, tmp_path: Path) -> None:
    flow = two_step_pipeline(code_dir)
    first = wait_done(ml_client, ml_client.jobs.create_or_update(flow(n=3, add=1)).name)
    assert first.status == "Completed", first.error
    ml_client.jobs.download(first.name, download_path=tmp_path / "a", output_name="result")
    assert (tmp_path / "a" / "named-outputs" / "result" / "n.txt").read_text() == "7"

    again = ml_client.jobs.create_or_update(flow(n=3, add=1))
    # Fully reused: complete before create_or_update returns, no new run.
    assert again.status == "Completed"
    first_steps, again_steps = steps_of(ml_client, first.name), steps_of(ml_client, again.name)
    for step in ("first", "second"):
        assert again_steps[step].reused_from == first_steps[step].name  # type: ignore[attr-defined]
    assert again.outputs["result"].path == first.outputs["result"].path

    changed = wait_done(ml_client, ml_client.jobs.create_or_update(flow(n=3, add=5)).name)
    changed_steps = steps_of(ml_client, changed.name)
    assert changed_steps["first"].reused_from == first_steps["first"].name  # type: ignore[attr-defined]
    assert changed_steps["second"].reused_from is None  # type: ignore[attr-defined]
    ml_client.jobs.download(changed.name, download_path=tmp_path / "b", output_name="result")
    assert (tmp_path / "b" / "named-outputs" / "result" / "n.txt").read_text() == "11"

    forced = flow(n=3, add=1)
    forced.settings.force_rerun = True
    forced_job = wait_done(ml_client, ml_client.jobs.create_or_update(forced).name)
    assert all(s.reused_from is None for s in steps_of(ml_client, forced_job.name).values())  # type: ignore[attr-defined]


def test_changed_code_is_not_reused(ml_client: MLClient, code_dir: Path) -> None:
    flow = two_step_pipeline(code_dir)
    first = wait_done(ml_client, ml_client.jobs.create_or_update(flow(n=8, add=0)).name)
    edited = code_dir / "double" / "double.py"
    edited.write_text(edited.read_text() + "\n# edited\n")
    second = wait_done(ml_client, ml_client.jobs.create_or_update(flow(n=8, add=0)).name)
    steps = steps_of(ml_client, second.name)
    assert steps["first"].reused_from == steps_of(ml_client, first.name)["first"].name  # type: ignore[attr-defined]
    assert steps["second"].reused_from is None  # type: ignore[attr-defined]


def test_independent_steps_run_in_parallel(ml_client: MLClient, code_dir: Path,
                                           tmp_path: Path) -> None:
    # Each step announces itself, then waits for the other: run one after the other, the first
    # would give up after 30 s and fail.
    script(code_dir, "meet.py", """
        import os, sys, time
        here, other, out = sys.argv[1], sys.argv[2], sys.argv[3]
        open(here, "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(other):
            if time.monotonic() > deadline:
                sys.exit("the other step never started")
            time.sleep(0.05)
    """)
    meet = command(command="python meet.py ${{inputs.me}} ${{inputs.other}} ${{outputs.o}}",
                   code=code_dir, inputs={"me": Input(type="string"), "other": Input(type="string")},
                   outputs={"o": Output()}, is_deterministic=False)
    a, b = str(tmp_path / "a.flag"), str(tmp_path / "b.flag")

    @dsl.pipeline(experiment_name="it-parallel", max_parallel_steps=2)
    def both():  # type: ignore[no-untyped-def]
        left = meet(me=a, other=b)
        right = meet(me=b, other=a)

    job = wait_done(ml_client, ml_client.jobs.create_or_update(both()).name)
    assert job.status == "Completed", job.error


def test_failed_step_fails_job_and_skips_dependents(ml_client: MLClient, code_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    script(code_dir, "ok.py", "import os, sys; open(os.path.join(sys.argv[1], 'x'), 'w').close()\n")
    script(code_dir, "boom.py", "import sys; print('about to fail'); sys.exit(3)\n")
    ok = command(command="python ok.py ${{outputs.o}}", code=code_dir, outputs={"o": Output()},
                 is_deterministic=False)
    boom = command(command="python boom.py ${{inputs.i}} ${{outputs.o}}", code=code_dir,
                   inputs={"i": Input(type="uri_folder")}, outputs={"o": Output()})
    after = command(command="python ok.py ${{outputs.o}} ${{inputs.i}}", code=code_dir,
                    inputs={"i": Input(type="uri_folder")}, outputs={"o": Output()})

    @dsl.pipeline(experiment_name="it-fail", continue_on_step_failure=True, max_parallel_steps=1)
    def flow():  # type: ignore[no-untyped-def]
        start = ok()
        broken = boom(i=start.outputs.o)
        downstream = after(i=broken.outputs.o)
        independent = ok()

    job = ml_client.jobs.create_or_update(flow())
    with pytest.raises(JobFailedError, match="exit code 3"):
        ml_client.jobs.stream(job.name)
    streamed = capsys.readouterr().out
    assert "about to fail" in streamed and "Status: Failed" in streamed
    done = ml_client.jobs.get(job.name)
    assert done.status == "Failed"
    assert "about to fail" in done.error
    steps = steps_of(ml_client, job.name)
    assert steps["broken"].status == "Failed"  # type: ignore[attr-defined]
    assert steps["downstream"].status == "Canceled"  # type: ignore[attr-defined]
    assert "upstream step(s) broken failed" in steps["downstream"].error  # type: ignore[attr-defined]
    assert steps["independent"].status == "Completed"  # type: ignore[attr-defined]


def test_cancel_stops_the_step_process(ml_client: MLClient, code_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script(code_dir, "sleepy.py", """
        import os, sys, time
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    job = ml_client.jobs.create_or_update(
        command(command=f"python sleepy.py {pid_file}", code=code_dir, experiment_name="it-cancel")
    )
    wait_for(pid_file)
    pid = int(pid_file.read_text())
    done = ml_client.jobs.begin_cancel(job.name).result(timeout=60)
    assert done.status == "Canceled"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the step process is still alive after cancel")


def test_killed_runner_is_resumed_and_half_outputs_never_reused(
    ml_client: MLClient, module_ws: Workspace, code_dir: Path, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"
    pid_file = tmp_path / "step.pid"
    script(code_dir, "first.py", """
        import os, sys
        open(os.path.join(sys.argv[1], "a.txt"), "w").write("a")
    """)
    script(code_dir, "second.py", f"""
        import os, sys, time
        out = os.path.join(sys.argv[2], "b.txt")
        if not os.path.exists({str(attempts)!r}):
            open({str(attempts)!r}, "w").close()
            open(out, "w").write("half")          # a partial write, then the runner dies
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(300)
        open(out, "w").write("full")
    """)
    first = command(command="python first.py ${{outputs.o}}", code=code_dir,
                    outputs={"o": Output()}, inputs={"tag": Input(type="string")})
    second = command(command="python second.py ${{inputs.i}} ${{outputs.o}}", code=code_dir,
                     inputs={"i": Input(type="uri_folder")}, outputs={"o": Output()})

    @dsl.pipeline(experiment_name="it-resume")
    def flow(tag):  # type: ignore[no-untyped-def]
        one = first(tag=tag)
        two = second(i=one.outputs.o)
        return {"b": two.outputs.o}

    job = ml_client.jobs.create_or_update(flow(tag=str(tmp_path)))
    wait_for(pid_file)
    runner = JobService(module_ws).get(job.name).runner_pid
    assert runner is not None
    os.kill(runner, signal.SIGKILL)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    time.sleep(0.2)
    assert ml_client.jobs.get(job.name).status == "NotResponding"

    resumed = ml_client.jobs.resume(job.name)
    done = wait_done(ml_client, resumed.name)
    assert done.status == "Completed", done.error
    steps = steps_of(ml_client, job.name)
    assert steps["two"].status == "Completed"  # type: ignore[attr-defined]
    ml_client.jobs.download(job.name, download_path=tmp_path / "dl", output_name="b")
    assert (tmp_path / "dl" / "named-outputs" / "b" / "b.txt").read_text() == "full"


def test_step_timeout(ml_client: MLClient, code_dir: Path) -> None:
    job = command(command="python -c 'import time; time.sleep(120)'", experiment_name="it-timeout")
    job.set_limits(timeout=2)
    done = wait_done(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Failed"
    assert "exceeded its timeout of 2 s" in done.error


def test_invalid_jobs_are_rejected_before_anything_runs(ml_client: MLClient, code_dir: Path,
                                                         tmp_path: Path) -> None:
    before = len(ml_client.jobs.list())
    needs = command(command="python x.py ${{inputs.lr}}", inputs={"lr": Input(type="number")})
    with pytest.raises(InvalidInputError, match="required input 'lr'"):
        ml_client.jobs.create_or_update(needs)
    missing = command(command="cat ${{inputs.f}}",
                      inputs={"f": Input(type="uri_file", path=str(tmp_path / "nope.csv"))})
    with pytest.raises(NotFoundError, match=r"nope\.csv"):
        ml_client.jobs.create_or_update(missing)
    no_code = command(command="python x.py", code=tmp_path / "no-such-folder")
    with pytest.raises(NotFoundError, match="no-such-folder"):
        ml_client.jobs.create_or_update(no_code)
    assert len(ml_client.jobs.list()) == before


def test_pip_install_in_a_step_changes_only_its_environment(ml_client: MLClient,
                                                             code_dir: Path) -> None:
    make_wheel(code_dir, "lw-env-probe", "1.0", "lw_env_probe", "VALUE = 7\n")
    job = command(
        command="pip install -q --no-index ./lw_env_probe-1.0-py3-none-any.whl && "
        "python -c 'import lw_env_probe; assert lw_env_probe.VALUE == 7'",
        code=code_dir,
        environment=None,
        experiment_name="it-pip",
    )
    done = wait_done(ml_client, ml_client.jobs.create_or_update(job).name, timeout=180)
    assert done.status == "Completed", done.error
    probe = subprocess.run([sys.executable, "-c", "import lw_env_probe"], capture_output=True)
    assert probe.returncode != 0, "the step's pip install leaked into the base environment"


def test_job_outlives_the_process_that_submitted_it(module_ws: Workspace, ml_client: MLClient,
                                                    code_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "done.txt"
    script(code_dir, "slow.py", f"""
        import time
        time.sleep(2)
        open({str(marker)!r}, "w").write("finished")
    """)
    submitter = textwrap.dedent(f"""
        from lakeworks import MLClient, command
        ml = MLClient(workspace={str(module_ws.path)!r})
        job = ml.jobs.create_or_update(command(command="python slow.py", code={str(code_dir)!r},
                                               experiment_name="it-detached"))
        print(job.name)
    """)
    done = subprocess.run([sys.executable, "-c", submitter], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    assert not marker.exists()  # the submitter returned (and exited) before the step finished
    finished = wait_done(ml_client, name)
    assert finished.status == "Completed", finished.error
    assert marker.read_text() == "finished"
