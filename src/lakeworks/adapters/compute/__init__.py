"""Compute adapters: where step commands run (local process groups for now)."""

from __future__ import annotations

from lakeworks.adapters.compute.local import LocalStepExecutor

__all__ = ["LocalStepExecutor"]
