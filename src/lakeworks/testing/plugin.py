"""Pytest plugin of Lakeworks: fixtures over real services, and gating of network tests.

Enable with ``pytest_plugins = ["lakeworks.testing.plugin"]`` in a root ``conftest.py``.
"""

from __future__ import annotations

import os

import pytest

from lakeworks.testing.postgres import postgres_server_url, postgres_url
from lakeworks.testing.s3 import s3_bucket_url, s3_server
from lakeworks.testing.workspace import workspace

__all__ = ["postgres_server_url", "postgres_url", "s3_bucket_url", "s3_server", "workspace"]

RUN_NETWORK_ENV = "LAKEWORKS_RUN_NETWORK"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``network`` tests unless enabled by the environment or selected with ``-m``."""
    if os.environ.get(RUN_NETWORK_ENV) == "1" or "network" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(
        reason=f"installs packages from PyPI; set {RUN_NETWORK_ENV}=1 or use -m network"
    )
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
