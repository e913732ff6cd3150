"""Job use cases: submit, get, list, cancel, resume, stream and download.

Owns the records a submission creates (the job, and a child job per pipeline step), starting
the detached runner process that outlives the caller, noticing a runner that died
(``NotResponding``), and the Azure formats of ``stream`` and ``download``. Running the steps is
``services.runner``'s job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lakeworks.core.jobs import (
    TERMINAL_STATUSES,
    JobRecord,
    JobSpec,
    JobStatus,
    check_transition,
)
from lakeworks.core.names import generate_job_name, validate_name
from lakeworks.errors import ConflictError, JobFailedError, NotFoundError, StateError
from lakeworks.services.assets import AssetService
from lakeworks.services.resolution import JobResolver
from lakeworks.services.runner import JobRunner
from lakeworks.services.steps import job_dir, log_path
from lakeworks.services.workspace import Workspace

_RUNNING = frozenset(
    {JobStatus.PREPARING, JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.CANCEL_REQUESTED}
)
_RESUMABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.NOT_RESPONDING})


def _now() -> datetime:
    return datetime.now(UTC)


def _runner_alive(pid: int | None, job_name: str) -> bool:
    if pid is None:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            return job_name.encode() in cmdline.read_bytes()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobService:
    """Jobs of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.repo = ws.metadata.jobs
        self.assets = AssetService(ws)

    # -- submit ----------------------------------------------------------------------------

    def validate(self, spec: JobSpec, *, base_dir: Path | None = None) -> JobSpec:
        """Resolve and check a job without running it (uploads code and data it names)."""
        return JobResolver(self.assets, self.repo, base_dir=base_dir).resolve(spec)

    def submit(
        self,
        spec: JobSpec,
        *,
        name: str | None = None,
        base_dir: Path | None = None,
        start: bool = True,
    ) -> JobRecord:
        """Resolve, record and start a job; return at once while it runs in the background.

        A job whose every step can be reused completes before this returns.

        Raises:
            InvalidInputError / NotFoundError: the job is invalid (nothing was run).
            ConflictError: a job of that name exists.
        """
        resolved = self.validate(spec, base_dir=base_dir)
        job_name = validate_name(name, what="job name") if name else generate_job_name()
        created = _now()
        record = JobRecord(
            name=job_name,
            type=resolved.type,
            status=JobStatus.NOT_STARTED,
            experiment_name=resolved.experiment_name,
            display_name=resolved.display_name or job_name,
            description=resolved.description,
            tags=resolved.tags,
            spec=resolved.model_dump(mode="json"),
            created_at=created,
        )
        self.repo.create(record)
        if resolved.type == "pipeline":
            for step_name, step in resolved.steps.items():
                self.repo.create(
                    JobRecord(
                        name=generate_job_name(),
                        type="command",
                        parent=job_name,
                        step=step_name,
                        experiment_name=resolved.experiment_name,
                        display_name=step.display_name or step_name,
                        spec=step.model_dump(mode="json"),
                        created_at=created,
                    )
                )
        log_path(self.ws, job_name).parent.mkdir(parents=True, exist_ok=True)
        if not start:
            return self.repo.get(job_name)
        if JobRunner(self.ws, job_name).try_reuse_all():
            return self.repo.get(job_name)
        self._start_runner(job_name)
        return self.repo.get(job_name)

    def _start_runner(self, job_name: str) -> None:
        self.repo.update(job_name, {"status": JobStatus.QUEUED})
        folder = job_dir(self.ws, job_name)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "runner.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lakeworks.services.runner_process", str(self.ws.path),
                 job_name],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.repo.update(job_name, {"runner_pid": proc.pid})

    # -- read ------------------------------------------------------------------------------

    def get(self, name: str) -> JobRecord:
        """A job or step record, marking it NotResponding when its runner died."""
        record = self.repo.get(name)
        if record.status in _RUNNING:
            owner = record if record.parent is None else self.repo.get(record.parent)
            if not _runner_alive(owner.runner_pid, owner.name):
                updated = self.repo.update(
                    name,
                    {"status": JobStatus.NOT_RESPONDING},
                    expect_status=frozenset({record.status}),
                )
                record = updated or self.repo.get(name)
        return record

    def steps(self, name: str) -> list[JobRecord]:
        """The step jobs of a pipeline, in the pipeline's order."""
        record = self.repo.get(name)
        children = self.repo.list(parent=name, include_archived=True)
        order = list(JobSpec.model_validate(record.spec).steps)
        return sorted(children, key=lambda c: order.index(c.step) if c.step in order else 0)

    # -- control ---------------------------------------------------------------------------

    def cancel(self, name: str) -> JobRecord:
        """Ask a job to stop; its running steps' processes are terminated."""
        record = self.get(name)
        if record.parent is not None:
            raise StateError(
                f"'{name}' is a step of pipeline job '{record.parent}'; cancel the pipeline"
            )
        if record.status.is_terminal:
            return record
        if record.status in (JobStatus.NOT_STARTED, JobStatus.NOT_RESPONDING) or not _runner_alive(
            record.runner_pid, name
        ):
            self._cancel_records(name)
            return self.repo.get(name)
        # A runner that has not started yet finds CancelRequested and stops at once; one
        # that has (its signal handler is installed by then) is sent SIGTERM.
        queued = self.repo.update(
            name,
            {"status": JobStatus.CANCEL_REQUESTED},
            expect_status=frozenset({JobStatus.QUEUED}),
        )
        if queued is not None:
            return queued
        self.repo.update(
            name, {"status": JobStatus.CANCEL_REQUESTED}, expect_status=_RUNNING
        )
        current = self.repo.get(name)
        if current.runner_pid is not None and not current.status.is_terminal:
            try:
                os.kill(current.runner_pid, signal.SIGTERM)
            except ProcessLookupError:
                self._cancel_records(name)
        return self.repo.get(name)

    def _cancel_records(self, name: str) -> None:
        now = _now()
        for child in self.repo.list(parent=name, include_archived=True):
            if child.status not in TERMINAL_STATUSES:
                self.repo.update(child.name, {"status": JobStatus.CANCELED, "ended_at": now})
        self.repo.update(name, {"status": JobStatus.CANCELED, "ended_at": now})

    def resume(self, name: str) -> JobRecord:
        """Run a failed, canceled or abandoned job again, reusing every finished step."""
        record = self.get(name)
        if record.parent is not None:
            raise StateError(f"'{name}' is a step; resume pipeline job '{record.parent}'")
        if record.status not in _RESUMABLE:
            raise StateError(
                f"job '{name}' is {record.status.value}; only Failed, Canceled or "
                "NotResponding jobs can be resumed"
            )
        check_transition(name, record.status, JobStatus.QUEUED)
        for child in self.repo.list(parent=name, include_archived=True):
            if child.status is not JobStatus.COMPLETED:
                self.repo.update(
                    child.name,
                    {"status": JobStatus.NOT_STARTED, "error": None, "ended_at": None},
                )
        self.repo.update(
            name, {"status": JobStatus.NOT_STARTED, "error": None, "ended_at": None}
        )
        if JobRunner(self.ws, name).try_reuse_all():
            return self.repo.get(name)
        self._start_runner(name)
        return self.repo.get(name)

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.2) -> JobRecord:
        """Block until the job is terminal (or ``timeout`` seconds pass) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.get(name)
            if record.status.is_terminal or record.status is JobStatus.NOT_RESPONDING:
                return record
            if deadline is not None and time.monotonic() > deadline:
                return record
            time.sleep(poll)

    # -- stream ----------------------------------------------------------------------------

    def stream(
        self,
        name: str,
        out: TextIO,
        *,
        web_view: Callable[[JobRecord], str | None] | None = None,
        poll: float = 0.2,
    ) -> JobRecord:
        """Print a job's logs as they grow until it ends, then an execution summary.

        Raises:
            JobFailedError: the job ended Failed; the message holds the failed step's log tail.
        """
        record = self.get(name)
        link = web_view(record) if web_view else None
        out.write(f"RunId: {name}\nWeb View: {link or 'n/a'}\n\n")
        followed: dict[Path, int] = {}
        headers: set[Path] = set()
        while True:
            record = self.get(name)
            done = record.status.is_terminal or record.status is JobStatus.NOT_RESPONDING
            for title, path in self._log_files(record):
                self._follow(path, title, followed, headers, out)
            out.flush()
            if done:
                break
            time.sleep(poll)
        out.write("\nExecution Summary\n=================\n")
        out.write(f"RunId: {name}\nWeb View: {(web_view(record) if web_view else None) or 'n/a'}\n")
        out.write(f"Status: {record.status.value}\n")
        out.flush()
        if record.status is JobStatus.FAILED:
            raise JobFailedError(f"job '{name}' failed: {record.error or 'see its log'}")
        return record

    def _log_files(self, record: JobRecord) -> list[tuple[str, Path]]:
        files = [(f"job {record.name}", log_path(self.ws, record.name))]
        if record.type == "pipeline":
            for child in self.steps(record.name):
                if child.status is not JobStatus.NOT_STARTED:
                    files.append(
                        (f"step {child.step} ({child.name})", log_path(self.ws, child.name))
                    )
        return files

    @staticmethod
    def _follow(
        path: Path, title: str, offsets: dict[Path, int], headers: set[Path], out: TextIO
    ) -> None:
        if not path.exists():
            return
        with path.open("rb") as fh:
            fh.seek(offsets.get(path, 0))
            data = fh.read()
        if not data:
            return
        complete = data.rfind(b"\n") + 1
        if complete == 0:
            return
        if path not in headers:
            headers.add(path)
            out.write(f"--- {title} ---\n")
        out.write(data[:complete].decode(errors="replace"))
        offsets[path] = offsets.get(path, 0) + complete

    # -- download --------------------------------------------------------------------------

    def download(
        self,
        name: str,
        download_path: Path,
        *,
        output_name: str | None = None,
        all: bool = False,
    ) -> list[Path]:
        """Azure's layout: logs and ./outputs under ``artifacts/``, outputs under ``named-outputs/``."""
        record = self.get(name)
        written: list[Path] = []
        names = [output_name] if output_name else (list(record.outputs) if all else [])
        for out in names:
            if out not in record.outputs:
                raise NotFoundError(
                    f"job '{name}' has no output '{out}'"
                    + (f"; its outputs are: {', '.join(record.outputs)}" if record.outputs
                       else " (it has not produced outputs yet)")
                )
            dest = download_path / "named-outputs" / out
            located = self.assets.locate(record.outputs[out])
            if dest.exists():
                raise ConflictError(f"'{dest}' already exists; remove it or pick another path")
            located.store.download(located.key, dest)
            written.append(dest)
        if output_name is None:
            dest = download_path / "artifacts"
            jobs = [record] + (self.steps(name) if record.type == "pipeline" else [])
            for job in jobs:
                prefix = dest if job is record else dest / (job.step or job.name)
                src = log_path(self.ws, job.name)
                if src.exists():
                    target = prefix / "user_logs" / "std_log.txt"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(src.read_bytes())
                    written.append(target)
                key = f"azureml/{job.name}/artifacts"
                if self.ws.artifacts.exists(key):
                    self.ws.artifacts.download(key, prefix)
                    written.append(prefix)
        return written

    # Last in the class: a method named ``list`` would shadow the builtin in later annotations.
    def list(
        self,
        *,
        parent: str | None = None,
        experiment: str | None = None,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Jobs newest first: top-level jobs, or the steps of ``parent``."""
        return self.repo.list(
            parent=parent,
            experiment=experiment,
            top_level_only=parent is None,
            include_archived=include_archived,
            limit=limit,
        )
