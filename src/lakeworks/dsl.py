"""Pipeline DSL, as ``azure.ai.ml.dsl``: ``from lakeworks import dsl`` then ``@dsl.pipeline``."""

from __future__ import annotations

from lakeworks.client.dsl import pipeline

__all__ = ["pipeline"]
