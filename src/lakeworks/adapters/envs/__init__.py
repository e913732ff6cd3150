"""Environment builders: turn an ``EnvironmentPlan`` into an interpreter that runs steps.

``venv`` builds cached overlay virtual environments over the environment Lakeworks runs in.
"""

from __future__ import annotations

from lakeworks.adapters.envs.venv import VenvEnvironmentBuilder

__all__ = ["VenvEnvironmentBuilder"]
