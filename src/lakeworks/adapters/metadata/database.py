"""Connections to the metadata database: URL rules, engine set-up, transactions, error mapping.

Owns which URLs are accepted (``sqlite:///path.db``, ``postgresql[+psycopg]://...``), the SQLite
settings every connection gets (WAL journal, 30 s busy timeout, foreign keys), write
transactions that take the database's write lock up front (``BEGIN IMMEDIATE`` on SQLite), and
turning SQLAlchemy and driver exceptions into ``BackendError`` with the password masked. It
knows no tables; the repos do.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    LakeworksError,
    MissingDependencyError,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
_BEGIN_OPTION = "lakeworks_sqlite_begin"
_FIX_URL = "check LAKEWORKS_DATABASE_URL (or database_url in lakeworks.toml)"
_PASSWORD_IN_TEXT = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD_IN_TEXT.sub(r"\1***@", url)


def normalize_url(url: str) -> URL:
    """Parse a metadata database URL and pick the driver Lakeworks uses for it.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3).

    Raises:
        InvalidInputError: not a URL, another database, or an in-memory SQLite database.

    Example:
        >>> normalize_url("postgresql://u@db:5432/lw").drivername
        'postgresql+psycopg'
    """
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise InvalidInputError(
            f"metadata database URL {mask_url(url)!r} is not a URL; expected "
            "sqlite:////absolute/path/metadata.db or postgresql://user:password@host:5432/db",
            field="database_url",
        ) from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise InvalidInputError(
                f"metadata database URL {mask_url(parsed)!r} is not a plain SQLite file "
                "(in-memory databases and file: URIs are not supported; the store must "
                "outlive this process): use sqlite:////absolute/path/metadata.db",
                field="database_url",
            )
        return parsed.set(database=str(Path(database).expanduser()))
    raise InvalidInputError(
        f"metadata database URL {mask_url(parsed)!r} names database '{backend}', which "
        "Lakeworks does not support; use SQLite or PostgreSQL",
        field="database_url",
        allowed=["sqlite", "postgresql", "postgresql+psycopg"],
    )


def _finite(value: Any) -> Any:
    """JSON without NaN or infinity (PostgreSQL rejects them): they become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_dumps(value: Any) -> str:
    return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)


def _reason(exc: BaseException) -> str:
    """The driver's own message, first line only, without SQL or parameters."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


class Database:
    """One engine over the metadata database, with transactions and error translation.

    Args:
        url: a URL accepted by ``normalize_url``.

    Raises:
        InvalidInputError: the URL is not accepted.
        MissingDependencyError: PostgreSQL without psycopg installed.
        BackendError: the SQLite file's folder cannot be created.
    """

    def __init__(self, url: str) -> None:
        self.sa_url = normalize_url(url)
        self.url = self.sa_url.render_as_string(hide_password=False)
        self.masked_url = mask_url(self.sa_url)
        self.dialect = self.sa_url.get_backend_name()
        self.engine = self._create_engine()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            return self._create_sqlite_engine()
        try:
            return sa.create_engine(
                self.sa_url,
                pool_pre_ping=True,
                json_serializer=_json_dumps,
                connect_args={"connect_timeout": 10, "application_name": "lakeworks"},
            )
        except ImportError as exc:
            raise MissingDependencyError(
                "psycopg", "postgres", "A PostgreSQL metadata store"
            ) from exc

    def _create_sqlite_engine(self) -> Engine:
        path = Path(str(self.sa_url.database))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(
                f"cannot create the folder '{path.parent}' of the SQLite metadata database: "
                f"{exc.strerror or exc}; {_FIX_URL}"
            ) from exc
        engine = sa.create_engine(
            self.sa_url,
            json_serializer=_json_dumps,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
        )
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
        sa.event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine

    def insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT with this dialect's ``on_conflict_do_*`` methods."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except sa_exc.DBAPIError as exc:
            if self.is_sqlite:
                hint = "check that the file's folder exists and is writable, or " + _FIX_URL
            else:
                hint = "check that the server is running and reachable, and " + _FIX_URL
            raise BackendError(
                f"cannot connect to the metadata database {self.masked_url}: {_reason(exc)}; {hint}"
            ) from exc

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        """A connection in a transaction, committed on success, rolled back on error.

        A write transaction takes SQLite's write lock at BEGIN (waiting up to the busy
        timeout), so a read-then-write never fails half-way on a lock upgrade. SQLAlchemy
        exceptions pass through untranslated; wrap calls in ``errors()``.
        """
        conn = self._connect()
        try:
            if write and self.is_sqlite:
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with conn.begin():
                yield conn
        finally:
            conn.close()

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Translate SQLAlchemy exceptions raised inside into ``BackendError``.

        Args:
            action: what was being done, completing "could not ...", e.g.
                "add a version of model 'm'".
        """
        try:
            yield
        except LakeworksError:
            raise
        except sa_exc.OperationalError as exc:
            reason = _reason(exc)
            if self.is_sqlite and "locked" in reason:
                reason += (
                    f" (another process held the write lock for over "
                    f"{BUSY_TIMEOUT_SECONDS:.0f} s; retry when it has finished)"
                )
            raise BackendError(
                f"could not {action} in the metadata database {self.masked_url}: {reason}; "
                "set LAKEWORKS_LOG_LEVEL=DEBUG for details"
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            log.debug("metadata database error", exc_info=True)
            raise BackendError(
                f"could not {action} in the metadata database {self.masked_url}: "
                f"{_reason(exc)}; set LAKEWORKS_LOG_LEVEL=DEBUG for details"
            ) from exc

    @contextmanager
    def read(self, action: str) -> Iterator[Connection]:
        """``errors(action)`` around a read transaction."""
        with self.errors(action), self.transaction(write=False) as conn:
            yield conn

    @contextmanager
    def write(self, action: str) -> Iterator[Connection]:
        """``errors(action)`` around a write transaction."""
        with self.errors(action), self.transaction(write=True) as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Lakeworks issues BEGIN itself (see _begin_sqlite_transaction); the sqlite3 module must
    # not open transactions behind SQLAlchemy's back.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _ensure_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL once (the mode is stored in the file).

    Switching needs an exclusive lock and SQLite does not always wait for it through the busy
    handler (several processes opening a fresh database at once), so retry until the timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _begin_sqlite_transaction(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


__all__ = ["BUSY_TIMEOUT_SECONDS", "Database", "mask_url", "normalize_url"]
