"""Fixtures for every test layer: real PostgreSQL, moto S3, fresh workspaces.

Tests marked ``slow`` (whole tutorials, Spark Connect, AutoML end to end) run when
``LAKEWORKS_RUN_SLOW=1`` (``scripts/test --all`` sets it, as CI runs) or when selected with ``-m slow``; otherwise they are
reported as skipped with that reason, so the default suite stays short on a laptop.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["lakeworks.testing.plugin"]

RUN_SLOW_ENV = "LAKEWORKS_RUN_SLOW"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless enabled by the environment or selected with ``-m``."""
    if os.environ.get(RUN_SLOW_ENV) == "1" or "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason=f"slow; run scripts/test --all (as CI does), set {RUN_SLOW_ENV}=1 or use -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
