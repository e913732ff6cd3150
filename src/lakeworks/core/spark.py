"""Spark steps: the command that runs a Spark component's entry script in a Lakeworks session.

Owns validating Azure's Spark fields (``entry.file``, ``conf``, ``py_files``, ``args``) and
turning them into the shell command a step runs: ``python -m lakeworks.spark_job`` with the
entry, the Spark configuration as JSON and the rendered arguments. ``${{inputs.x}}`` in
``args`` stays in the command, so it is substituted like any command step. No I/O.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence

from lakeworks.errors import InvalidInputError

LAUNCHER = "lakeworks.spark_job"
_CONF_KEY = re.compile(r"^spark\.[A-Za-z0-9_.\-]+$")
#: Azure's SparkJob keyword arguments and the configuration keys they set.
KEYWORD_CONF = {
    "driver_cores": "spark.driver.cores",
    "driver_memory": "spark.driver.memory",
    "executor_cores": "spark.executor.cores",
    "executor_memory": "spark.executor.memory",
    "executor_instances": "spark.executor.instances",
    "dynamic_allocation_enabled": "spark.dynamicAllocation.enabled",
    "dynamic_allocation_min_executors": "spark.dynamicAllocation.minExecutors",
    "dynamic_allocation_max_executors": "spark.dynamicAllocation.maxExecutors",
}


def validate_conf(conf: Mapping[str, object]) -> dict[str, str | int | float | bool]:
    """Check Spark configuration keys (``spark.*``) and scalar values."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in conf.items():
        if not _CONF_KEY.match(str(key)):
            raise InvalidInputError(
                f"Spark configuration key {key!r} is not valid: keys look like "
                "'spark.driver.memory'",
                field=f"conf.{key}",
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidInputError(
                f"Spark configuration value of {key!r} must be a string, number or boolean",
                field=f"conf.{key}",
            )
        out[str(key)] = value
    return out


def spark_command(
    entry: str, args: str | None, conf: Mapping[str, object], py_files: Sequence[str] = ()
) -> str:
    """The step command that runs ``entry`` with ``args`` in a Lakeworks Spark session.

    Example:
        >>> spark_command("prep.py", "--out ${{outputs.o}}", {"spark.driver.memory": "2g"})
        'python -m lakeworks.spark_job --conf-json \\'{"spark.driver.memory": "2g"}\\' prep.py --out ${{outputs.o}}'
    """
    if not entry or entry.startswith("/") or ".." in entry.split("/"):
        raise InvalidInputError(
            f"Spark entry file {entry!r} must be a path inside the component's code folder",
            field="entry.file",
        )
    parts = ["python", "-m", LAUNCHER, "--conf-json", shlex.quote(json.dumps(dict(conf)))]
    for path in py_files:
        parts += ["--py-file", shlex.quote(path)]
    parts.append(shlex.quote(entry))
    command = " ".join(parts)
    return f"{command} {args.strip()}" if args and args.strip() else command
