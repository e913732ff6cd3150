"""The discovery file a background server leaves in its workspace (``tracking.json``,
``serving/server.json``): written atomically, readable by its owner only, removed only by the
process it names. Standard library only, below every layer; it knows no server.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_info(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` as JSON to ``path`` atomically, mode 0600 (it may hold a secret)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(info, indent=1) + "\n")
    tmp.replace(path)


def remove_info(path: Path, pid: int) -> None:
    """Remove ``path`` if it still names process ``pid`` (a newer server may have replaced it)."""
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("could not remove %s: %s", path, exc)
