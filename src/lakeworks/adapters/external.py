"""External data: copying a file or folder from any fsspec URL (https://, s3://, ...) to a local path.

Used when a job input points outside the workspace's datastore and the step needs a local copy.
"""

from __future__ import annotations

from pathlib import Path

import fsspec

from lakeworks.errors import BackendError, NotFoundError


def fetch_url(url: str, dest: Path) -> Path:
    """Download ``url`` (a file or a folder prefix) to ``dest`` and return ``dest``.

    Raises:
        NotFoundError: nothing exists at ``url``.
        BackendError: the download failed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        fs, _, paths = fsspec.get_fs_token_paths(url)
        if not paths or not fs.exists(paths[0]):
            raise NotFoundError(f"input '{url}' does not exist")
        fs.get(paths[0], str(dest), recursive=True)
    except (NotFoundError, KeyboardInterrupt):
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise BackendError(f"could not download input '{url}': {exc}") from exc
    return dest
