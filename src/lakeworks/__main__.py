"""``python -m lakeworks`` runs the CLI."""

from __future__ import annotations

from lakeworks.cli.app import main

main()
