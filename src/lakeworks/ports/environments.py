"""Environment builder port: turn an ``EnvironmentPlan`` into a Python interpreter to run steps.

Builds are cached by content; a step's own ``pip install`` changes only its environment, never
the Python Lakeworks runs in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lakeworks.core.environments import EnvironmentPlan


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready environment: put ``bin_dir`` first on PATH and run ``python``."""

    key: str
    root: Path
    bin_dir: Path
    python: Path
    reused: bool


class EnvironmentBuilder(Protocol):
    """Builds (or finds in its cache) an environment for a plan."""

    def build(self, plan: EnvironmentPlan, log: Callable[[str], None]) -> BuiltEnvironment:
        """Return the environment for ``plan``, writing progress and substitutions to ``log``.

        Raises:
            BackendError: packages could not be installed; the message has pip's error tail.
        """
        ...

    def scratch(self, env: BuiltEnvironment, dest: Path) -> BuiltEnvironment:
        """A throwaway layer over ``env`` at ``dest`` for one step's own installs."""
        ...
