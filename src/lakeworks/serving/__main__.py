"""``python -m lakeworks.serving``: run the serving front process of a workspace.

Owns the command line only (``--workspace``, ``--host``, ``--port``, ``--max-body-mb``) and the
process's log output (stderr); ``lakeworks.serving.server.serve`` does the work.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lakeworks.errors import LakeworksError
from lakeworks.serving.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakeworks.serving",
        description="Serve the online endpoints of a Lakeworks workspace over HTTP.")
    parser.add_argument("--workspace", type=Path, required=True, help="the workspace folder")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=5001, help="TCP port; 0 picks a free one")
    parser.add_argument("--max-body-mb", type=float, default=100,
                        help="answer 413 to request bodies larger than this (default 100)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(args.workspace, host=args.host, port=args.port, max_body_mb=args.max_body_mb)
    except LakeworksError as exc:
        print(f"lakeworks serving: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
