"""``lakeworks datastore``: Datastores: named storage roots (folders, S3, Azure Blob, ADLS Gen2)."""

from __future__ import annotations

from lakeworks.cli.output import command_group

app = command_group("Datastores: named storage roots (folders, S3, Azure Blob, ADLS Gen2).")
