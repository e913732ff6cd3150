"""Versioned assets in SQL: ``SqlAlchemyAssetRepo`` over ``lw_asset`` and ``lw_asset_version``.

Owns version numbering (auto-increment is one more than the largest all-digit version, made
safe across processes by locking the asset's ``lw_asset`` row: ``SELECT ... FOR UPDATE`` on
PostgreSQL, the write lock of ``BEGIN IMMEDIATE`` on SQLite, with the unique constraint on
(kind, name, version) and a retry as the last line), immutability of a version's content, and
"latest" as the newest live version by insertion order. It never interprets specs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Row

from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.tables import lw_asset, lw_asset_version
from lakeworks.core.assets import AssetVersion
from lakeworks.core.refs import AssetKind
from lakeworks.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)

_ATTEMPTS = 5
#: How many existing versions a NotFoundError lists.
_SHOWN_VERSIONS = 10

_v = lw_asset_version


def _to_version(row: Row[Any]) -> AssetVersion:
    return AssetVersion(
        kind=AssetKind(row.kind),
        name=row.name,
        version=row.version,
        spec=row.spec,
        content_hash=row.content_hash,
        created_at=row.created_at,
        archived=row.archived,
    )


def _where(kind: AssetKind, name: str, version: str | None = None) -> list[sa.ColumnElement[bool]]:
    clauses = [_v.c.kind == kind.value, _v.c.name == name]
    if version is not None:
        clauses.append(_v.c.version == version)
    return clauses


def next_version(existing: Sequence[str]) -> str:
    """One more than the largest all-digit version, ``"1"`` when there is none.

    Example:
        >>> next_version(["initial", "2", "10", "3a"])
        '11'
    """
    numbers = [int(v) for v in existing if v.isascii() and v.isdigit()]
    return str(max(numbers, default=0) + 1)


class SqlAlchemyAssetRepo:
    """The ``AssetRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_version(
        self,
        kind: AssetKind,
        name: str,
        version: str | None,
        spec: Mapping[str, Any],
        content_hash: str,
    ) -> tuple[AssetVersion, bool]:
        """Add a version, or number it when ``version`` is None (see ``AssetRepo``).

        Raises:
            ConflictError: ``version`` exists with another content hash.
            BackendError: the database failed.
        """
        kind = AssetKind(kind)
        body = dict(spec)
        with self._db.errors(f"add a version of {kind.value} '{name}'"):
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    with self._db.transaction(write=True) as conn:
                        return self._add(conn, kind, name, version, body, content_hash)
                except sa_exc.IntegrityError:
                    if attempt == _ATTEMPTS:
                        raise
                    log.debug("version of %s '%s' taken concurrently; retrying", kind, name)
        raise AssertionError("unreachable")  # pragma: no cover

    def _add(
        self,
        conn: Connection,
        kind: AssetKind,
        name: str,
        version: str | None,
        spec: dict[str, Any],
        content_hash: str,
    ) -> tuple[AssetVersion, bool]:
        now = datetime.now(UTC)
        self._lock_asset(conn, kind, name, now)
        if version is None:
            taken = conn.execute(sa.select(_v.c.version).where(*_where(kind, name))).scalars()
            version = next_version(list(taken))
        else:
            row = conn.execute(sa.select(_v).where(*_where(kind, name, version))).first()
            if row is not None:
                if row.content_hash == content_hash:
                    return _to_version(row), False
                raise ConflictError(
                    f"{kind.value} '{name}' version '{version}' already exists with different "
                    "content, and versions are immutable; pick a new version, or omit the "
                    "version to auto-increment"
                )
        conn.execute(
            sa.insert(_v).values(
                kind=kind.value,
                name=name,
                version=version,
                spec=spec,
                content_hash=content_hash,
                created_at=now,
                archived=False,
            )
        )
        created = AssetVersion(
            kind=kind,
            name=name,
            version=version,
            spec=spec,
            content_hash=content_hash,
            created_at=now,
        )
        return created, True

    def _lock_asset(self, conn: Connection, kind: AssetKind, name: str, now: datetime) -> None:
        """Create the asset's row if missing and hold its lock until the transaction ends."""
        conn.execute(
            self._db.insert(lw_asset)
            .values(kind=kind.value, name=name, created_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "name"])
        )
        if not self._db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already locked the database
            conn.execute(
                sa.select(lw_asset.c.kind)
                .where(lw_asset.c.kind == kind.value, lw_asset.c.name == name)
                .with_for_update()
            )

    def update_spec(
        self, kind: AssetKind, name: str, version: str, spec: Mapping[str, Any]
    ) -> AssetVersion:
        """Replace the stored spec of one version (a metadata edit; the hash is unchanged).

        Raises:
            NotFoundError: no such version.
        """
        kind = AssetKind(kind)
        with self._db.write(f"update {kind.value} '{name}' version '{version}'") as conn:
            where = _where(kind, name, version)
            result = conn.execute(sa.update(_v).where(*where).values(spec=dict(spec)))
            if result.rowcount == 0:
                raise self._version_not_found(conn, kind, name, version)
            return _to_version(conn.execute(sa.select(_v).where(*where)).one())

    def get_version(self, kind: AssetKind, name: str, version: str) -> AssetVersion:
        """One version, archived or not.

        Raises:
            NotFoundError: names the kind, name and version, and lists existing versions.
        """
        kind = AssetKind(kind)
        with self._db.read(f"read {kind.value} '{name}' version '{version}'") as conn:
            row = conn.execute(sa.select(_v).where(*_where(kind, name, version))).first()
            if row is None:
                raise self._version_not_found(conn, kind, name, version)
            return _to_version(row)

    def get_latest(self, kind: AssetKind, name: str) -> AssetVersion:
        """The most recently created version that is not archived.

        Raises:
            NotFoundError: the asset does not exist, or every version is archived.
        """
        kind = AssetKind(kind)
        with self._db.read(f"read the latest version of {kind.value} '{name}'") as conn:
            row = conn.execute(
                sa.select(_v)
                .where(*_where(kind, name), _v.c.archived.is_(False))
                .order_by(_v.c.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                return _to_version(row)
            if self._versions(conn, kind, name, limit=1):
                raise NotFoundError(
                    f"every version of {kind.value} '{name}' is archived, so it has no latest "
                    "version; restore a version or register a new one"
                )
            raise self._asset_not_found(kind, name)

    def list_versions(
        self, kind: AssetKind, name: str | None = None, *, include_archived: bool = False
    ) -> list[AssetVersion]:
        """Versions of one asset, or of every asset of ``kind``, newest first."""
        kind = AssetKind(kind)
        query = sa.select(_v).where(_v.c.kind == kind.value).order_by(_v.c.id.desc())
        if name is not None:
            query = query.where(_v.c.name == name)
        if not include_archived:
            query = query.where(_v.c.archived.is_(False))
        with self._db.read(f"list versions of {kind.value} assets") as conn:
            return [_to_version(row) for row in conn.execute(query)]

    def set_archived(self, kind: AssetKind, name: str, version: str | None, archived: bool) -> None:
        """Archive or restore one version, or every version when ``version`` is None.

        Raises:
            NotFoundError: no such asset or version.
        """
        kind = AssetKind(kind)
        verb = "archive" if archived else "restore"
        what = f"{kind.value} '{name}'" + (f" version '{version}'" if version else "")
        with self._db.write(f"{verb} {what}") as conn:
            result = conn.execute(
                sa.update(_v).where(*_where(kind, name, version)).values(archived=archived)
            )
            if result.rowcount == 0:
                if version is None:
                    raise self._asset_not_found(kind, name)
                raise self._version_not_found(conn, kind, name, version)

    # -- error messages --------------------------------------------------------------------

    @staticmethod
    def _versions(conn: Connection, kind: AssetKind, name: str, *, limit: int) -> list[str]:
        query = sa.select(_v.c.version).where(*_where(kind, name))
        return list(conn.execute(query.order_by(_v.c.id.desc()).limit(limit)).scalars())

    @staticmethod
    def _asset_not_found(kind: AssetKind, name: str) -> NotFoundError:
        return NotFoundError(
            f"{kind.value} '{name}' does not exist; check the name, or register it first"
        )

    def _version_not_found(
        self, conn: Connection, kind: AssetKind, name: str, version: str
    ) -> NotFoundError:
        existing = self._versions(conn, kind, name, limit=_SHOWN_VERSIONS + 1)
        if not existing:
            return self._asset_not_found(kind, name)
        shown = ", ".join(existing[:_SHOWN_VERSIONS])
        more = ", ..." if len(existing) > _SHOWN_VERSIONS else ""
        return NotFoundError(
            f"{kind.value} '{name}' has no version '{version}'; existing versions, newest "
            f"first: {shown}{more}"
        )


__all__ = ["SqlAlchemyAssetRepo", "next_version"]
