"""Lake adapters: Delta tables with delta-rs (``DeltaTableStore``) and file readers with pyarrow
(``ArrowFileReader``).

Owns nothing itself: it names the two adapters the registry loads (``table_store``,
``file_reader``). ``delta.py`` holds the table format, ``readers.py`` the readers (with
``csv_reader.py``, ``json_reader.py``, ``sources.py`` and ``reading.py``), ``schema.py`` the
Arrow-to-Delta type rules and ``options.py`` the storage options of both.
"""

from __future__ import annotations

from lakeworks.adapters.lake.delta import DeltaTableStore
from lakeworks.adapters.lake.readers import ArrowFileReader

__all__ = ["ArrowFileReader", "DeltaTableStore"]
