"""Fixtures of the contract suites: real services on 127.0.0.1 (PostgreSQL, moto S3)."""

from __future__ import annotations

from lakeworks.testing.postgres import postgres_server_url, postgres_url
from lakeworks.testing.s3 import s3_bucket_url, s3_server

__all__ = ["postgres_server_url", "postgres_url", "s3_bucket_url", "s3_server"]
