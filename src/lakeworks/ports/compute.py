"""Compute port: run one rendered step command and report how it ended.

The local implementation runs ``bash -c`` in its own process group; a Spark or cluster
implementation may come later behind the same seam.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StepResult:
    """How a step's process ended."""

    exit_code: int
    timed_out: bool = False
    canceled: bool = False


class StepExecutor(Protocol):
    """Runs step commands."""

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        timeout: float | None,
        cancel: threading.Event,
    ) -> StepResult:
        """Run ``command`` through a shell, appending stdout and stderr to ``log_path``.

        Returns when the process ends, ``timeout`` seconds pass (the process group is killed)
        or ``cancel`` is set (likewise).
        """
        ...
