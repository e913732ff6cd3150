"""``lakeworks sql``: SQL over the lake: queries, saved procedures, an interactive shell."""

from __future__ import annotations

from lakeworks.cli.output import command_group

app = command_group("SQL over the lake: queries, saved procedures, an interactive shell.")
