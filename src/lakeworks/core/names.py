"""Names and relative paths: what is a legal asset/job name, and generated job names.

Owns the rules that keep user-given names from escaping the workspace (``../``, absolute
paths, odd characters). Pure functions; no I/O.
"""

from __future__ import annotations

import posixpath
import re
import secrets

from lakeworks.errors import InvalidInputError

# Azure allows letters, digits, '-', '_' and '.' in asset names; it must start with a letter or
# digit. We use the same rule for every named thing, capped in length.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

_ADJECTIVES = (
    "amber", "brave", "calm", "coral", "dreamy", "eager", "frosty", "gentle", "happy", "icy",
    "jolly", "keen", "lively", "mellow", "nifty", "olive", "plucky", "quiet", "rosy", "silly",
    "sunny", "teal", "upbeat", "vivid", "witty", "zesty",
)
_NOUNS = (
    "anchor", "bell", "brook", "cloud", "dune", "ember", "fern", "garden", "harbor", "island",
    "jungle", "kettle", "lagoon", "meadow", "nest", "orchard", "pebble", "quill", "river",
    "stone", "tide", "valley", "willow", "yarn", "zebra",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxyz0123456789"


def validate_name(name: object, *, what: str = "name") -> str:
    """Return ``name`` if it is a legal asset, job or step name, else raise.

    Example:
        >>> validate_name("credit-card")
        'credit-card'
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInputError(
            f"{what} {name!r} is not valid: use 1-255 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def validate_version(version: object) -> str:
    """Return ``version`` as a string if legal (``"1"``, ``"initial"``, ``"0.2.0"``), else raise."""
    if isinstance(version, bool) or not isinstance(version, str | int):
        raise InvalidInputError(f"version {version!r} is not valid: give a string such as '1'")
    text = str(version)
    if not _VERSION_RE.match(text):
        raise InvalidInputError(
            f"version {text!r} is not valid: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return text


def generate_job_name() -> str:
    """A job name in Azure's style: ``<adjective>_<noun>_<10 random chars>``.

    Example:
        >>> len(generate_job_name().split("_")[2])
        10
    """
    suffix = "".join(secrets.choice(_NAME_CHARS) for _ in range(10))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"


def safe_relative_path(path: str, *, what: str = "path") -> str:
    """Normalise a store-relative path and reject anything that could leave its root.

    Absolute paths, ``..`` segments, backslashes and NUL bytes are rejected.

    Example:
        >>> safe_relative_path("LocalUpload/ab/data.csv")
        'LocalUpload/ab/data.csv'
    """
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise InvalidInputError(f"{what} {path!r} is not a valid relative path")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise InvalidInputError(
            f"{what} {path!r} is absolute; give a path relative to the store root"
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInputError(f"{what} {path!r} contains '..', which would escape the store")
    if not parts:
        raise InvalidInputError(f"{what} {path!r} is empty")
    return posixpath.join(*parts)
