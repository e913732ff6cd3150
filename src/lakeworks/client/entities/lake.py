"""Lake entities of the SDK: ``TableInfo`` (a lake table), ``LakeDatabase``, ``TableLoadResult``.

Plain result objects built from the lake service's records (``ml_client.lake.get``, ``list``,
``load``); they describe a table, they do not hold its data (``ml_client.lake.read`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakeworks.core.lake import DatabaseRecord, TableRecord
from lakeworks.ports.lake import Reject


@dataclass(frozen=True)
class TableColumn:
    """One column of a lake table: its name and Arrow type (``int64``, ``date32[day]``)."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableInfo:
    """A lake table: a Delta table in a datastore, registered in a lake database.

    Attributes:
        database: the lake database (``default`` unless given).
        name: the table's name.
        location: where its files are (``azureml://datastores/...`` or a URL).
        columns: its columns, in order.
        version: the current Delta version (None when the table's files cannot be read).
        managed: whether dropping it deletes its files.
    """

    database: str
    name: str
    location: str
    columns: tuple[TableColumn, ...] = ()
    version: int | None = None
    partition_by: tuple[str, ...] = ()
    description: str | None = None
    format: str = "delta"
    managed: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None

    @property
    def qualified_name(self) -> str:
        """``database.name``."""
        return f"{self.database}.{self.name}"

    @classmethod
    def _from_record(cls, record: TableRecord, version: int | None) -> TableInfo:
        return cls(
            database=record.database,
            name=record.name,
            location=record.location,
            columns=tuple(TableColumn(c.name, c.type, c.nullable) for c in record.columns),
            version=version,
            partition_by=record.partition_by,
            description=record.description,
            format=record.format,
            managed=record.properties.get("managed", "true") == "true",
            created_at=record.created_at,
            updated_at=record.updated_at,
            created_by=record.created_by,
        )

    def _to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database, "name": self.name, "location": self.location,
            "version": self.version, "format": self.format, "managed": self.managed,
            "partition_by": list(self.partition_by), "description": self.description,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "created_by": self.created_by,
            "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable}
                        for c in self.columns],
        }


@dataclass(frozen=True)
class LakeDatabase:
    """A lake database (Synapse's lake database; Spark's database)."""

    name: str
    location: str
    description: str | None = None
    created_at: datetime | None = None

    @classmethod
    def _from_record(cls, record: DatabaseRecord) -> LakeDatabase:
        return cls(record.name, record.location, record.description, record.created_at)


@dataclass(frozen=True)
class TableLoadResult:
    """What ``ml_client.lake.load`` did: the table, rows written and rows left out."""

    table: TableInfo
    rows_written: int
    rejects: list[Reject] = field(default_factory=list)
