"""The same pipeline on a scaled-out workspace: metadata in PostgreSQL, artifacts in S3."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import Input, MLClient, Output, command, dsl
from lakeworks.entities import Data
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.s3 import S3Server
from lakeworks.testing.workspace import stop_workspace_processes

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


@pytest.fixture
def scaled(tmp_path: Path, postgres_url: str, s3_bucket_url: str,
           s3_server: S3Server) -> Iterator[Workspace]:
    ws = create_workspace(
        tmp_path / "ws",
        settings={"database_url": postgres_url, "artifact_url": s3_bucket_url,
                  "s3_endpoint_url": s3_server.endpoint_url},
    )
    try:
        yield ws
    finally:
        stop_workspace_processes(ws)
        ws.close()


def test_pipeline_with_mlflow_registration_on_postgres_and_s3(scaled: Workspace,
                                                             tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "prep.py").write_text(textwrap.dedent("""
        import os, sys
        rows = open(sys.argv[1]).read().splitlines()
        open(os.path.join(sys.argv[2], "rows.txt"), "w").write(str(len(rows)))
    """))
    (code / "train.py").write_text(textwrap.dedent("""
        import os, sys, mlflow, mlflow.sklearn
        from sklearn.linear_model import LinearRegression
        n = int(open(os.path.join(sys.argv[1], "rows.txt")).read())
        mlflow.start_run()
        mlflow.log_metric("rows", n)
        model = LinearRegression().fit([[0], [1], [2]], [0, 1, 2])
        mlflow.sklearn.log_model(model, name="model", registered_model_name="scaled-model")
        mlflow.end_run()
    """))
    csv = tmp_path / "data.csv"
    csv.write_text("a\n1\n2\n3\n")
    ml = MLClient(workspace=scaled.path)
    data = ml.data.create_or_update(Data(name="rows", version="1", type="uri_file", path=str(csv)))
    prep = command(command="python prep.py ${{inputs.src}} ${{outputs.out}}", code=code,
                   inputs={"src": Input(type="uri_file")}, outputs={"out": Output()})
    train = command(command="python train.py ${{inputs.prepared}}", code=code,
                    inputs={"prepared": Input(type="uri_folder")})

    @dsl.pipeline(experiment_name="scaled")
    def flow(src):  # type: ignore[no-untyped-def]
        p = prep(src=src)
        t = train(prepared=p.outputs.out)
        return {"prepared": p.outputs.out}

    job = ml.jobs.create_or_update(flow(src=Input(type="uri_file", path=data.path)))
    deadline = time.monotonic() + 240
    while (done := ml.jobs.get(job.name)).status not in ("Completed", "Failed", "Canceled"):
        assert time.monotonic() < deadline, "pipeline did not finish"
        time.sleep(0.3)
    assert done.status == "Completed", done.error
    steps = {s.step: s for s in done.steps}
    assert steps["t"].metrics == {"rows": 4.0}
    model = ml.models.get("scaled-model", version="1")
    assert model.job_name == steps["t"].name
    assert scaled.artifacts.url.startswith("s3://")
    ml.jobs.download(job.name, download_path=tmp_path / "dl", output_name="prepared")
    assert (tmp_path / "dl" / "named-outputs" / "prepared" / "rows.txt").read_text() == "4"

    again = ml.jobs.create_or_update(flow(src=Input(type="uri_file", path=data.path)))
    assert again.status == "Completed"
    assert all(s.reused_from for s in again.steps)
