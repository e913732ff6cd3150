"""Settings: every tunable of Lakeworks, with where each value came from.

Precedence, highest first: explicit arguments, environment (``LAKEWORKS_*``), the workspace's
``lakeworks.toml`` (``[settings]`` table), the user config (``~/.config/lakeworks/config.toml``),
then defaults. Built at entry points (CLI, client, runner) and passed down; nothing reads it at
import time.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lakeworks.errors import InvalidInputError

WORKSPACE_FILE = "lakeworks.toml"


def _user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lakeworks" / "config.toml"


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lakeworks"


class Settings(BaseSettings):
    """Lakeworks settings. Environment variables are ``LAKEWORKS_<FIELD>`` in upper case."""

    model_config = SettingsConfigDict(env_prefix="LAKEWORKS_", env_nested_delimiter="__")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite in the workspace",
    )
    artifact_url: str | None = Field(
        default=None,
        description="Root of the artifact store (folder or fsspec URL such as s3://bucket/p)",
    )
    workspace_root: Path = Field(
        default_factory=lambda: Path.home() / ".lakeworks" / "workspaces",
        description="Where MLClient(workspace_name=NAME) finds or creates workspace NAME",
    )
    env_cache_dir: Path = Field(
        default_factory=lambda: _user_cache_dir() / "envs",
        description="Cache of built step environments, shared by workspaces",
    )
    max_parallel_steps: int = Field(
        default_factory=lambda: max(2, os.cpu_count() or 2),
        ge=1,
        description="How many independent pipeline steps run at once",
    )
    tracking_idle_timeout: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds the workspace tracking server lives without requests",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for s3:// artifact stores (e.g. a local server)"
    )
    log_level: str = Field(default="WARNING", description="Python logging level")
    spark_master: str | None = Field(
        default=None,
        description="Spark master for lakeworks.spark sessions (spark://host:7077); "
        "default: local[N], one thread per CPU",
    )
    spark_remote: str | None = Field(
        default=None, description="Spark Connect URL (sc://host:15002) instead of a master"
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings for lakeworks.spark sessions, over Lakeworks' defaults",
    )
    serving_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="port of the online endpoints' serving process on 127.0.0.1; default "
        "5001, or a free port when 5001 is taken",
    )

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def _read_toml_settings(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{path}: not valid TOML: {exc}") from exc
    section = data.get("settings", {})
    if not isinstance(section, dict):
        raise InvalidInputError(f"{path}: [settings] must be a table")
    return section


def load_settings(workspace: Path | None = None, **overrides: Any) -> Settings:
    """Build settings with Lakeworks' precedence.

    Args:
        workspace: the workspace folder whose ``lakeworks.toml`` [settings] apply, if any.
        **overrides: explicit values, which win over everything.

    Raises:
        InvalidInputError: a value is invalid; the message names the key and its source.
    """
    layered: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, path in (
        ("user config", _user_config_path()),
        ("workspace config", workspace / WORKSPACE_FILE if workspace else None),
    ):
        if path is None:
            continue
        for key, value in _read_toml_settings(path).items():
            if key not in Settings.model_fields:
                raise InvalidInputError(
                    f"{path}: unknown setting '{key}'", allowed=Settings.model_fields.keys()
                )
            layered[key] = value
            sources[key] = f"{label} {path}"
    env_keys = {
        k for k in Settings.model_fields if f"LAKEWORKS_{k.upper()}" in os.environ
    }
    for k in env_keys:
        layered.pop(k, None)
        sources[k] = f"environment variable LAKEWORKS_{k.upper()}"
    explicit = {k: v for k, v in overrides.items() if v is not None}
    for k in explicit:
        sources[k] = "argument"
    try:
        settings = Settings(**{**layered, **explicit})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        raise InvalidInputError(
            f"setting '{key}' from {sources.get(key, 'defaults')} is invalid: {err['msg']}"
        ) from None
    settings._sources = sources
    return settings


def setting_sources(settings: Settings) -> dict[str, str]:
    """Where each non-default value of ``settings`` came from."""
    return dict(settings._sources)
