"""Fixtures for every test layer: real PostgreSQL, moto S3, fresh workspaces."""

from __future__ import annotations

pytest_plugins = ["lakeworks.testing.plugin"]
