"""The step-reuse index in SQL: ``SqlAlchemyStepCacheRepo`` over ``lw_step_cache``.

Owns storing, replacing (upsert) and deleting cache entries by reuse key. Computing reuse keys
and deciding whether an entry may be reused is the job service's business, not this module's.
"""

from __future__ import annotations

import sqlalchemy as sa

from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.tables import lw_step_cache
from lakeworks.ports.metadata import CacheEntry

_c = lw_step_cache


class SqlAlchemyStepCacheRepo:
    """The ``StepCacheRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or None."""
        with self._db.read(f"read step cache entry '{key}'") as conn:
            row = conn.execute(sa.select(_c).where(_c.c.key == key)).first()
        if row is None:
            return None
        return CacheEntry(
            key=row.key,
            job_name=row.job_name,
            outputs=row.outputs,
            output_hashes=row.output_hashes,
            mlflow_run_id=row.mlflow_run_id,
            created_at=row.created_at,
        )

    def put(self, entry: CacheEntry) -> None:
        """Insert or replace the entry for ``entry.key``."""
        values = entry.model_dump(mode="python")
        statement = self._db.insert(_c).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[_c.c.key],
            set_={name: statement.excluded[name] for name in values if name != "key"},
        )
        with self._db.write(f"store step cache entry '{entry.key}'") as conn:
            conn.execute(statement)

    def delete(self, key: str) -> None:
        """Remove the entry for ``key``; nothing happens when there is none."""
        with self._db.write(f"delete step cache entry '{key}'") as conn:
            conn.execute(sa.delete(_c).where(_c.c.key == key))


__all__ = ["SqlAlchemyStepCacheRepo"]
