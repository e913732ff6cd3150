"""Pytest fixtures for tests that need a real PostgreSQL server (marker ``postgres``).

Owns finding the server (``LAKEWORKS_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``) and giving each test a fresh, uniquely named
database that is dropped afterwards. When the server is unreachable the fixtures skip with the
reason, or fail when ``LAKEWORKS_REQUIRE_SERVICES=1`` (CI sets it so PostgreSQL is always
exercised there). Never starts or configures a server.

Use from a ``conftest.py``::

    from lakeworks.testing.postgres import postgres_server_url, postgres_url  # noqa: F401
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_ENV = "LAKEWORKS_TEST_POSTGRES_URL"
REQUIRE_SERVICES_ENV = "LAKEWORKS_REQUIRE_SERVICES"
DATABASE_PREFIX = "lw_test_"


def services_required() -> bool:
    """True when ``LAKEWORKS_REQUIRE_SERVICES=1``: a missing service fails instead of skips."""
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip() == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip the current test with ``reason``, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1 is set)", pytrace=False)
    pytest.skip(reason)


def _sqlalchemy_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _admin_engine(url: URL) -> Engine:
    return sa.create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of a reachable PostgreSQL server (its maintenance database), as configured."""
    url = os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL
    where = _sqlalchemy_url(url).render_as_string(hide_password=True)
    try:
        engine = _admin_engine(_sqlalchemy_url(url))
    except ImportError:
        service_unavailable(
            f"PostgreSQL tests need psycopg to reach {where}: pip install 'lakeworks[postgres]'"
        )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa_exc.DBAPIError as exc:
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        service_unavailable(
            f"PostgreSQL server at {where} is unreachable ({first_line}); start one there "
            f"or set {POSTGRES_URL_ENV}"
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test, dropped afterwards; yields its SQLAlchemy URL.

    The URL uses the psycopg 3 driver (``postgresql+psycopg://``) and includes the password.
    """
    server = _sqlalchemy_url(postgres_server_url)
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with engine.connect() as conn:
                # Connections a test left open would block the DROP (WITH (FORCE) needs 13+).
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        finally:
            engine.dispose()


__all__ = [
    "DEFAULT_POSTGRES_URL",
    "POSTGRES_URL_ENV",
    "REQUIRE_SERVICES_ENV",
    "postgres_server_url",
    "postgres_url",
    "service_unavailable",
    "services_required",
]
