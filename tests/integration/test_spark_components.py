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


@pytest.mark.spark
@pytest.mark.slow
def test_a_pipeline_mixes_a_spark_step_and_a_python_step(tmp_path: Path) -> None:
    """Spark engineers features from a lake table; a Python step trains on its output."""
    import json
    import shutil

    from lakeworks import MLClient, command, dsl
    from lakeworks.sample_data import dataset_path
    from lakeworks.services.workspace import create_workspace
    from lakeworks.testing.workspace import stop_workspace_processes

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (a JRE 17 on PATH)")
    ws = create_workspace(tmp_path / "ws")
    try:
        ml = MLClient(workspace=ws.path)
        ml.lake.load(str(dataset_path("bike-rentals-daily")), "bike_data")
        src = tmp_path / "src"
        src.mkdir()
        write(src / "features.py", """
            import argparse
            from pyspark.sql import SparkSession
            parser = argparse.ArgumentParser()
            parser.add_argument("--features")
            args = parser.parse_args()
            spark = SparkSession.builder.getOrCreate()
            df = spark.sql("SELECT season, temp, rentals FROM bike_data WHERE rentals > 1000")
            df.write.mode("overwrite").saveAsTable("bike_features")
            df.write.mode("overwrite").parquet(args.features)
        """)
        write(src / "train.py", """
            import json, sys, pathlib
            import pyarrow.parquet as pq
            rows = pq.read_table(sys.argv[1]).to_pylist()
            by_season = {}
            for r in rows:
                by_season.setdefault(r["season"], []).append(r["rentals"])
            model = {s: sum(v) / len(v) for s, v in by_season.items()}
            pathlib.Path(sys.argv[2], "model.json").write_text(json.dumps(model))
        """)
        features = spark(
            code=src, entry={"file": "features.py"}, args="--features ${{outputs.features}}",
            outputs={"features": Output(type="uri_folder")},
            conf={"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": 2},
        )
        train = command(
            code=src, command="python train.py ${{inputs.features}} ${{outputs.model}}",
            inputs={"features": Input(type="uri_folder")},
            outputs={"model": Output(type="uri_folder")},
        )

        @dsl.pipeline()
        def flow() -> dict[str, object]:
            made = features()
            trained = train(features=made.outputs.features)
            return {"model": trained.outputs.model}

        job = ml.jobs.create_or_update(flow())
        ml.jobs.stream(job.name)
        assert ml.jobs.get(job.name).status == "Completed"
        out = tmp_path / "out"
        ml.jobs.download(job.name, download_path=out, output_name="model")
        model = json.loads(next(out.rglob("model.json")).read_text())
        expected = ml.sql("SELECT season, AVG(rentals) AS mean FROM bike_features "
                          "GROUP BY season").to_pylist()
        assert model == pytest.approx({r["season"]: r["mean"] for r in expected})
        assert len(model) == 4
    finally:
        stop_workspace_processes(ws)
        ws.close()
