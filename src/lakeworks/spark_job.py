"""``python -m lakeworks.spark_job``: how a Spark step runs its entry script.

A Spark component's command (see ``core.spark.spark_command``) calls this module with the
Spark configuration as JSON, extra Python files, the entry script and its arguments. It puts
the ``py_files`` on ``sys.path`` and runs the entry inside a Lakeworks Spark session wired to
the workspace's lake catalog, so the script's own ``SparkSession.builder.getOrCreate()`` gets
that session.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lakeworks import spark


def main(argv: list[str] | None = None) -> int:
    """Parse the launcher's arguments and run the entry script; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lakeworks.spark_job")
    parser.add_argument("--conf-json", default="{}", help="Spark configuration as JSON")
    parser.add_argument("--py-file", action="append", default=[], help="extra Python file")
    parser.add_argument("entry", help="the entry script, relative to the working folder")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the entry")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    conf = json.loads(ns.conf_json)
    for extra in ns.py_file:
        folder = str(Path(extra).resolve().parent if extra.endswith(".py") else Path(extra))
        if folder not in sys.path:
            sys.path.insert(0, folder)
    spark.run_entry(ns.entry, list(ns.args), {k: str(v) for k, v in conf.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
