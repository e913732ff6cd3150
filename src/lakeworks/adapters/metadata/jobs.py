"""Job records in SQL: ``SqlAlchemyJobRepo`` over ``lw_job``.

Owns mapping a ``JobRecord`` to a row (queried fields as columns, the rest as the JSON
``details``), listing newest first, and status compare-and-set: an update with
``expect_status`` locks the row, and its single UPDATE also carries ``status IN (...)``, so two
writers racing from the same status cannot both win. Legal status transitions are the job
service's rule, not this module's.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Row

from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.tables import lw_job
from lakeworks.core.jobs import JobRecord, JobStatus
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError

#: JobRecord fields stored as columns of ``lw_job``; the others go to ``details``.
COLUMN_FIELDS = frozenset(
    {
        "name",
        "type",
        "status",
        "parent",
        "step",
        "experiment_name",
        "created_at",
        "started_at",
        "ended_at",
        "mlflow_run_id",
        "archived",
    }
)
DETAIL_FIELDS = frozenset(JobRecord.model_fields) - COLUMN_FIELDS


def _to_row(record: JobRecord) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(record, field) for field in COLUMN_FIELDS}
    values["status"] = record.status.value
    values["details"] = record.model_dump(mode="json", include=set(DETAIL_FIELDS))
    return values


def _to_record(row: Row[Any]) -> JobRecord:
    data: dict[str, Any] = dict(row.details)
    data.update({field: getattr(row, field) for field in COLUMN_FIELDS})
    return JobRecord.model_validate(data)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"job '{name}' does not exist; check the name (`lakeworks job list` lists jobs)"
    )


class SqlAlchemyJobRepo:
    """The ``JobRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, record: JobRecord) -> None:
        """Insert a record.

        Raises:
            ConflictError: a job with this name exists.
        """
        with self._db.errors(f"create job '{record.name}'"):
            try:
                with self._db.transaction(write=True) as conn:
                    conn.execute(sa.insert(lw_job).values(**_to_row(record)))
            except sa_exc.IntegrityError as exc:
                raise ConflictError(
                    f"job '{record.name}' already exists; job names are unique in a "
                    "workspace: pick another name, or leave it out to have one generated"
                ) from exc

    def get(self, name: str) -> JobRecord:
        """One record.

        Raises:
            NotFoundError: no job has this name.
        """
        with self._db.read(f"read job '{name}'") as conn:
            row = conn.execute(sa.select(lw_job).where(lw_job.c.name == name)).first()
        if row is None:
            raise _not_found(name)
        return _to_record(row)

    def list(
        self,
        *,
        parent: str | None = None,
        experiment: str | None = None,
        top_level_only: bool = False,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> builtins.list[JobRecord]:
        """Records, newest first (by ``created_at``, then name), filtered as asked.

        Args:
            parent: only the steps of this pipeline job.
            experiment: only jobs of this experiment.
            top_level_only: only jobs without a parent (no pipeline steps).
            include_archived: include archived jobs.
            limit: at most this many records.
        """
        query = sa.select(lw_job).order_by(lw_job.c.created_at.desc(), lw_job.c.name.desc())
        if parent is not None:
            query = query.where(lw_job.c.parent == parent)
        if experiment is not None:
            query = query.where(lw_job.c.experiment_name == experiment)
        if top_level_only:
            query = query.where(lw_job.c.parent.is_(None))
        if not include_archived:
            query = query.where(lw_job.c.archived.is_(False))
        if limit is not None:
            query = query.limit(limit)
        with self._db.read("list jobs") as conn:
            rows = conn.execute(query).all()
        return [_to_record(row) for row in rows]

    def update(
        self,
        name: str,
        changes: Mapping[str, Any],
        *,
        expect_status: frozenset[JobStatus] | None = None,
    ) -> JobRecord | None:
        """Apply ``changes`` (JobRecord field -> value) atomically, as one UPDATE.

        Args:
            name: the job.
            changes: new field values; ``name`` cannot change.
            expect_status: apply only if the current status is one of these.

        Returns:
            The updated record, or None when ``expect_status`` did not match (nothing changed).

        Raises:
            NotFoundError: no job has this name.
            InvalidInputError: an unknown field, a new name, or a value of the wrong type.
        """
        _check_changes(name, changes)
        with self._db.write(f"update job '{name}'") as conn:
            row = conn.execute(
                sa.select(lw_job).where(lw_job.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise _not_found(name)
            current = _to_record(row)
            if expect_status is not None and current.status not in expect_status:
                return None
            try:
                updated = JobRecord.model_validate({**current.model_dump(), **changes})
            except ValidationError as exc:
                raise InvalidInputError(
                    f"cannot update job '{name}': {exc.errors()[0]['msg']}",
                    field=".".join(str(p) for p in exc.errors()[0]["loc"]),
                ) from exc
            statement = sa.update(lw_job).where(lw_job.c.name == name)
            if expect_status is not None:
                statement = statement.where(lw_job.c.status.in_([s.value for s in expect_status]))
            result = conn.execute(statement.values(**_to_row(updated)))
            return updated if result.rowcount == 1 else None


def _check_changes(name: str, changes: Mapping[str, Any]) -> None:
    unknown = sorted(set(changes) - set(JobRecord.model_fields))
    if unknown:
        raise InvalidInputError(
            f"cannot update job '{name}': unknown field(s) {', '.join(unknown)}",
            allowed=JobRecord.model_fields,
        )
    if "name" in changes and changes["name"] != name:
        raise InvalidInputError(
            f"cannot rename job '{name}' to '{changes['name']}': job names never change",
            field="name",
        )


__all__ = ["COLUMN_FIELDS", "DETAIL_FIELDS", "SqlAlchemyJobRepo"]
