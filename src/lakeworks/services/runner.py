"""The job runner: executes a submitted job's steps in dependency order, in parallel.

Owns the life of one job run: status changes of the job and its steps (Azure's names),
reuse of unchanged deterministic steps, parallelism up to a limit, failure handling
(``continue_on_step_failure``: stop everything, or skip only what depends on the failed step),
cancellation (a cancel event shared with every running step), pipeline outputs, and resuming a
job whose runner died (finished steps are kept). ``try_reuse_all`` is the fast path used at
submission: when every step is reusable the job completes at once, with no process started.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from lakeworks.core.environments import EnvironmentPlan
from lakeworks.core.expressions import BindingKind, parse_binding
from lakeworks.core.graph import build_graph
from lakeworks.core.jobs import COMMAND_STEP, JobRecord, JobSpec, JobStatus
from lakeworks.errors import LakeworksError, NotFoundError
from lakeworks.ports.compute import StepExecutor
from lakeworks.ports.metadata import CacheEntry
from lakeworks.services import adapter_registry
from lakeworks.services.assets import AssetService
from lakeworks.services.steps import (
    LogWriter,
    StepContext,
    StepOutputs,
    StepValue,
    bind_inputs,
    environment_plan,
    execute_step,
    log_path,
    reuse_key,
)
from lakeworks.services.workspace import Workspace

log = logging.getLogger(__name__)

_ACTIVE = frozenset(
    {
        JobStatus.NOT_STARTED,
        JobStatus.QUEUED,
        JobStatus.PREPARING,
        JobStatus.RUNNING,
        JobStatus.FINALIZING,
        JobStatus.NOT_RESPONDING,
    }
)


def _now() -> datetime:
    return datetime.now(UTC)


class JobRunner:
    """Runs one job in this process."""

    def __init__(
        self,
        ws: Workspace,
        job_name: str,
        *,
        executor: StepExecutor | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.ws = ws
        self.repo = ws.metadata.jobs
        self.assets = AssetService(ws)
        self.job = self.repo.get(job_name)
        self.spec = JobSpec.model_validate(self.job.spec)
        self.graph = build_graph(self.spec)
        self.cancel = cancel or threading.Event()
        self._executor = executor
        self.is_pipeline = self.spec.type == "pipeline"
        self.records: dict[str, JobRecord] = self._step_records()
        self.finished: dict[str, StepOutputs] = {}
        self.bound: dict[str, dict[str, StepValue]] = {}
        self.plans: dict[str, EnvironmentPlan] = {}
        self.job_log = LogWriter(log_path(ws, job_name))
        self._stopped = threading.Event()

    def _step_records(self) -> dict[str, JobRecord]:
        if not self.is_pipeline:
            return {COMMAND_STEP: self.job}
        children = self.repo.list(parent=self.job.name, include_archived=True)
        return {c.step: c for c in children if c.step is not None}

    # -- reuse -----------------------------------------------------------------------------

    def _cached(self, step_name: str) -> tuple[str | None, CacheEntry | None]:
        step = self.spec.steps[step_name]
        inputs = bind_inputs(self.spec, step, self.finished, self.bound)
        self.bound[step_name] = inputs
        plan = self.plans.get(step_name)
        if plan is None:
            plan = self.plans[step_name] = environment_plan(step.component, self.assets)
        if not step.component.is_deterministic or not self.is_pipeline:
            # As in Azure ML, only pipeline steps are reused; a standalone job always runs.
            return None, None
        key = reuse_key(step, inputs, plan)
        if self.spec.settings.force_rerun:
            return key, None  # run it, and index its outputs for later reuse
        entry = self.ws.metadata.cache.get(key)
        if entry is None:
            return key, None
        for uri in entry.outputs.values():
            try:
                located = self.assets.locate(uri)
            except NotFoundError:  # its datastore was deleted, or lacks a credential now
                return key, None
            if not located.store.exists(located.key):
                return key, None
        return key, entry

    def _mark_reused(self, step_name: str, entry: CacheEntry) -> None:
        record = self.records[step_name]
        now = _now()
        self.repo.update(
            record.name,
            {
                "status": JobStatus.COMPLETED,
                "outputs": entry.outputs,
                "output_hashes": entry.output_hashes,
                "reused_from": entry.job_name,
                "started_at": now,
                "ended_at": now,
                "error": None,
            },
        )
        if entry.mlflow_run_id is not None:
            self._copy_run_data(record.name, entry.job_name)
        self.finished[step_name] = StepOutputs(dict(entry.outputs), dict(entry.output_hashes))
        message = (
            f"step '{step_name}' reused the outputs of job '{entry.job_name}': its component, "
            "inputs, parameters and environment are unchanged (set force_rerun or "
            "is_deterministic: false to run it again)"
        )
        LogWriter(log_path(self.ws, record.name))(message)
        if self.is_pipeline:
            self.job_log(message)

    def _copy_run_data(self, name: str, source_job: str) -> None:
        try:
            source = self.repo.get(source_job)
        except LakeworksError:
            return
        self.repo.update(
            name,
            {
                "metrics": source.metrics,
                "params": source.params,
                "mlflow_run_id": source.mlflow_run_id,
                "mlflow_experiment_id": source.mlflow_experiment_id,
            },
        )

    def try_reuse_all(self) -> bool:
        """Complete the job from the reuse index if every step is reusable; else change nothing."""
        entries: dict[str, CacheEntry] = {}
        for step_name in self.graph.order:
            _, entry = self._cached(step_name)
            if entry is None:
                self.finished.clear()
                self.bound.clear()
                return False
            entries[step_name] = entry
            self.finished[step_name] = StepOutputs(dict(entry.outputs), dict(entry.output_hashes))
        self.finished.clear()
        now = _now()
        self.repo.update(self.job.name, {"status": JobStatus.RUNNING, "started_at": now})
        for step_name in self.graph.order:
            self._mark_reused(step_name, entries[step_name])
        self._finish(JobStatus.COMPLETED, None)
        return True

    # -- running ---------------------------------------------------------------------------

    def run(self) -> JobRecord:
        """Run every step not yet completed; return the final job record."""
        try:
            return self._run()
        except Exception as exc:  # the job must never stay Running because the runner broke
            detail = traceback.format_exc()
            log.error("runner of job %s failed: %s", self.job.name, detail)
            self.job_log(f"internal error in the job runner: {exc}\n{detail}")
            self._finish(JobStatus.FAILED, f"internal error in the job runner: {exc}")
            return self.repo.get(self.job.name)

    def _run(self) -> JobRecord:
        moved = self.repo.update(
            self.job.name,
            {"status": JobStatus.PREPARING, "started_at": self.job.started_at or _now(),
             "runner_pid": os.getpid()},
            expect_status=frozenset({JobStatus.NOT_STARTED, JobStatus.QUEUED}),
        )
        if moved is None:
            current = self.repo.get(self.job.name)
            if current.status is JobStatus.CANCEL_REQUESTED:
                for record in self.records.values():
                    if not record.status.is_terminal and record.name != self.job.name:
                        self.repo.update(
                            record.name, {"status": JobStatus.CANCELED, "ended_at": _now()}
                        )
                self._finish(JobStatus.CANCELED, None)
            return self.repo.get(self.job.name)
        for step_name, record in self.records.items():
            if self.is_pipeline and record.status is JobStatus.COMPLETED:
                self.finished[step_name] = StepOutputs(dict(record.outputs), dict(record.output_hashes))
        tracking = self.ws.tracking()
        experiment_id = tracking.ensure_experiment(self.spec.experiment_name)
        parent_run = None
        if self.is_pipeline:
            parent_run = self.job.mlflow_run_id or tracking.create_run(
                experiment_id,
                self.job.display_name or self.job.name,
                tags={"lakeworks.job_name": self.job.name},
            )
        self.repo.update(
            self.job.name,
            {"mlflow_run_id": parent_run, "mlflow_experiment_id": experiment_id},
        )
        ctx = StepContext(
            ws=self.ws,
            assets=self.assets,
            builder=self.ws.environment_builder(),
            executor=self._executor or adapter_registry.load("executor")(),
            tracking=tracking,
            experiment_id=experiment_id,
            parent_run_id=parent_run,
            cancel=threading.Event(),
        )
        self.repo.update(
            self.job.name,
            {"status": JobStatus.RUNNING},
            expect_status=frozenset({JobStatus.PREPARING}),
        )
        keepalive = threading.Thread(
            target=self._keep_tracking_alive, name="tracking-keepalive", daemon=True
        )
        keepalive.start()
        try:
            failed = self._schedule(ctx)
        finally:
            self._stopped.set()
        if parent_run is not None:
            tracking.end_run(
                parent_run,
                "KILLED" if self.cancel.is_set() else ("FAILED" if failed else "FINISHED"),
            )
        if self.cancel.is_set():
            self._finish(JobStatus.CANCELED, None)
        elif failed:
            self._finish(JobStatus.FAILED, failed)
        else:
            self._finish(JobStatus.COMPLETED, None)
        return self.repo.get(self.job.name)

    def _keep_tracking_alive(self) -> None:
        """Keep the tracking server up while steps run (it exits after an idle timeout).

        Step scripts may stay silent longer than the timeout and then call MLflow; every
        request, a health check included, counts as activity, and a server that went away
        is started again.
        """
        period = max(1.0, min(60.0, self.ws.settings.tracking_idle_timeout / 4))
        while not self._stopped.wait(period):
            try:
                self.ws.tracking()
            except LakeworksError as exc:
                log.warning("tracking server keep-alive failed: %s", exc)

    def _schedule(self, ctx: StepContext) -> str | None:
        """Run steps as they become ready; return the first failure's message, if any.

        ``ctx.cancel`` stops running steps; it is set when the job is canceled, and when a
        step fails unless ``continue_on_step_failure`` is on.
        """
        limit = self.spec.settings.max_parallel_steps or self.ws.settings.max_parallel_steps
        pending = [s for s in self.graph.order if s not in self.finished]
        running: dict[Future[str | None], str] = {}
        failed: dict[str, str] = {}
        skipped: set[str] = set()
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="step") as pool:
            while pending or running:
                if self.cancel.is_set():
                    ctx.cancel.set()
                for step_name in list(pending):
                    if ctx.cancel.is_set() or len(running) >= limit:
                        break
                    ups = self.graph.upstream[step_name]
                    blocked = ups & (set(failed) | skipped)
                    if blocked:
                        pending.remove(step_name)
                        skipped.add(step_name)
                        self._skip(step_name, sorted(blocked))
                        continue
                    if ups <= set(self.finished):
                        pending.remove(step_name)
                        running[pool.submit(self._step, ctx, step_name)] = step_name
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                for fut in done:
                    step_name = running.pop(fut)
                    error = fut.result()
                    if error is not None and step_name not in self.finished:
                        failed[step_name] = error
                        if not self.spec.settings.continue_on_step_failure:
                            ctx.cancel.set()
        for step_name in pending:
            self._skip(step_name, [])
        if failed:
            real = [m for m in failed.values() if "was canceled" not in m]
            return (real or list(failed.values()))[0]
        return None

    def _skip(self, step_name: str, because: list[str]) -> None:
        record = self.records[step_name]
        reason = (
            f"not run: upstream step(s) {', '.join(because)} failed"
            if because
            else "not run: the job stopped before this step started"
        )
        self.repo.update(
            record.name,
            {"status": JobStatus.CANCELED, "error": reason, "ended_at": _now()},
        )
        if self.is_pipeline:
            self.job_log(f"step '{step_name}' {reason}")

    def _step(self, ctx: StepContext, step_name: str) -> str | None:
        """Run one step; return None on success or its error message."""
        record = self.records[step_name]
        step = self.spec.steps[step_name]
        writer = LogWriter(log_path(self.ws, record.name))
        try:
            key, entry = self._cached(step_name)
            if entry is not None:
                self._mark_reused(step_name, entry)
                return None
            self.repo.update(
                record.name,
                {"status": JobStatus.PREPARING, "started_at": _now(), "error": None,
                 "reused_from": None, "runner_pid": os.getpid(),
                 "mlflow_experiment_id": ctx.experiment_id},
            )
            if self.is_pipeline:
                self.job_log(f"step '{step_name}' started as job '{record.name}'")
            display = record.display_name or step_name

            def running(run_id: str) -> None:
                self.repo.update(
                    record.name, {"status": JobStatus.RUNNING, "mlflow_run_id": run_id}
                )

            outcome = execute_step(
                ctx,
                job_name=record.name,
                display_name=display,
                step=step,
                inputs=self.bound[step_name],
                plan=self.plans[step_name],
                log=writer,
                on_running=running,
                on_finalizing=lambda: self._set_status(record.name, JobStatus.FINALIZING),
            )
        except LakeworksError as exc:
            message = f"step '{step_name}' could not start: {exc}"
            writer(message)
            self.repo.update(
                record.name, {"status": JobStatus.FAILED, "error": message, "ended_at": _now()}
            )
            return message
        result = outcome.result
        changes: dict[str, Any] = {
            "ended_at": _now(),
            "metrics": outcome.metrics,
            "params": outcome.params,
            "mlflow_run_id": outcome.run_id,
        }
        if result.exit_code == 0 and not result.canceled and not result.timed_out:
            self.finished[step_name] = outcome.outputs
            changes.update(
                status=JobStatus.COMPLETED,
                outputs=outcome.outputs.uris,
                output_hashes=outcome.outputs.hashes,
            )
            self.repo.update(record.name, changes)
            if key is not None:
                self.ws.metadata.cache.put(
                    CacheEntry(
                        key=key,
                        job_name=record.name,
                        outputs=outcome.outputs.uris,
                        output_hashes=outcome.outputs.hashes,
                        mlflow_run_id=outcome.run_id,
                        created_at=_now(),
                    )
                )
            if self.is_pipeline:
                self.job_log(f"step '{step_name}' completed")
            return None
        if result.canceled:
            message = f"step '{step_name}' was canceled"
            status = JobStatus.CANCELED
        elif result.timed_out:
            message = f"step '{step_name}' exceeded its timeout of {step.timeout_seconds} s"
            status = JobStatus.FAILED
        else:
            message = (
                f"step '{step_name}' failed with exit code {result.exit_code}. "
                f"Last lines of its log ({writer.path}):\n{writer.tail(20)}"
            )
            status = JobStatus.FAILED
        writer(message.splitlines()[0])
        changes.update(status=status, error=message)
        self.repo.update(record.name, changes)
        if self.is_pipeline:
            self.job_log(message.splitlines()[0])
        return message

    def _set_status(self, name: str, status: JobStatus) -> None:
        self.repo.update(name, {"status": status})

    # -- end -------------------------------------------------------------------------------

    def _finish(self, status: JobStatus, error: str | None) -> None:
        changes: dict[str, Any] = {"status": status, "ended_at": _now(), "error": error}
        if self.is_pipeline:
            outputs: dict[str, str] = {}
            hashes: dict[str, str] = {}
            for step_name, step in self.spec.steps.items():
                done = self.finished.get(step_name)
                if done is None:
                    continue
                for out_name, value in step.outputs.items():
                    binding = parse_binding(value) if isinstance(value, str) else None
                    if (
                        binding is not None
                        and binding.kind is BindingKind.PARENT_OUTPUT
                        and out_name in done.uris
                    ):
                        outputs[binding.name] = done.uris[out_name]
                        hashes[binding.name] = done.hashes.get(out_name, "")
            changes.update(outputs=outputs, output_hashes=hashes)
        self.repo.update(self.job.name, changes)
