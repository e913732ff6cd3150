"""`lakeworks quickstart`: the end-to-end demo on shipped data (written separately)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the end-to-end demo on shipped data in a fresh workspace.")
