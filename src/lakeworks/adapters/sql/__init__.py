"""SQL adapters: the embedded DuckDB engine and the sqlglot-based statement parser.

``duckdb.py`` runs statements over the catalog's tables; ``statements.py`` (with
``tokens.py`` and ``procedures.py``) splits and classifies scripts. Heavy imports (duckdb,
sqlglot) happen when these modules are loaded through the adapter registry.
"""
