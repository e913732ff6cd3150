"""REST entry points: the workspace tracking server (MLflow REST API + Lakeworks model registry)."""
