"""Spark components and jobs in Azure's schema become steps of the same job engine."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lakeworks import Input, Output, load_component, load_job
from lakeworks.client.builders import spark
from lakeworks.client.entities.spark import SparkComponent
from lakeworks.core.graph import build_graph
from lakeworks.errors import InvalidInputError


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_spark_builder_makes_a_spark_step(tmp_path: Path) -> None:
    job = spark(
        code=tmp_path, entry={"file": "prep.py"},
        inputs={"raw": Input(type="uri_file", mode="direct")},
        outputs={"out": Output(type="uri_folder", mode="direct")},
        args="--raw ${{inputs.raw}} --out ${{outputs.out}}",
        driver_memory="2g", conf={"spark.sql.shuffle.partitions": 4},
    )
    spec = job.component._to_spec()
    assert spec.type == "spark" and spec.entry == "prep.py"
    assert spec.conf == {"spark.sql.shuffle.partitions": 4, "spark.driver.memory": "2g"}
    assert spec.command.startswith("python -m lakeworks.spark_job --conf-json ")
    assert spec.command.endswith("prep.py --raw ${{inputs.raw}} --out ${{outputs.out}}")


def test_spark_component_yaml_and_pipeline_step(tmp_path: Path) -> None:
    write(tmp_path / "select.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/sparkComponent.schema.json
        name: select_columns
        type: spark
        code: ./src
        entry:
          file: select.py
        inputs:
          raw: {type: uri_file, mode: direct}
        outputs:
          selected: {type: uri_folder, mode: direct}
        args: --raw ${{inputs.raw}} --selected ${{outputs.selected}}
        conf:
          spark.driver.memory: 2g
          spark.executor.instances: 1
    """)
    comp = load_component(tmp_path / "select.yml")
    assert isinstance(comp, SparkComponent)
    assert comp._to_spec().conf["spark.executor.instances"] == 1
    write(tmp_path / "p.yml", """
        type: pipeline
        inputs:
          raw: {type: uri_file, path: ./data.csv}
        jobs:
          select:
            type: spark
            component: ./select.yml
            inputs: {raw: "${{parent.inputs.raw}}"}
          train:
            type: command
            command: python -c "print(1)" ${{inputs.d}}
            inputs: {d: "${{parent.jobs.select.outputs.selected}}"}
    """)
    job = load_job(tmp_path / "p.yml")
    graph = build_graph(job._to_job_spec())
    assert graph.order == ("select", "train")


def test_spark_job_yaml_with_inline_entry(tmp_path: Path) -> None:
    write(tmp_path / "job.yml", """
        type: spark
        code: .
        entry: {file: run.py}
        args: --n ${{inputs.n}}
        inputs: {n: 3}
    """)
    job = load_job(tmp_path / "job.yml")
    assert job.component._to_spec().command.endswith("run.py --n ${{inputs.n}}")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entry": None}, "needs entry"),
        ({"entry": {"class_name": "com.x.Main"}}, "Scala/Java"),
        ({"entry": {"file": "../x.py"}}, "inside the component's code folder"),
        ({"entry": {"file": "x.py"}, "conf": {"driver.memory": "2g"}}, "spark.driver.memory"),
    ],
)
def test_bad_spark_fields(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        spark(code=tmp_path, **kwargs).component._to_spec()  # type: ignore[arg-type]
