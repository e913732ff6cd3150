"""``lakeworks table``: Lake tables: Delta tables shared by Spark and SQL."""

from __future__ import annotations

from lakeworks.cli.output import command_group

app = command_group("Lake tables: Delta tables shared by Spark and SQL.")
