"""Test helpers for Lakeworks and for projects built on it: pytest fixtures over real services.

``lakeworks.testing.plugin`` is a pytest plugin (``pytest_plugins = ["lakeworks.testing.plugin"]``)
giving ``workspace`` (a fresh workspace whose tracking server is stopped afterwards),
``postgres_url`` (a fresh database on a real PostgreSQL server) and ``s3_bucket_url`` (a fresh
bucket on moto's S3 server on 127.0.0.1). Missing services skip with a reason, or fail when
``LAKEWORKS_REQUIRE_SERVICES=1``. Tests marked ``network`` (they install from PyPI) run only when
``LAKEWORKS_RUN_NETWORK=1`` or when selected with ``-m network``.
"""
