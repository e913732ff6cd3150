"""Assets through the SDK: immutable versions, labels, references, uploads, archive, bad input."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from lakeworks import Input, MLClient, command
from lakeworks.core.refs import AssetKind
from lakeworks.entities import Data, Environment, Model
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.services.assets import AssetService
from lakeworks.services.workspace import Workspace, create_workspace


@pytest.fixture
def ml(workspace: Workspace) -> MLClient:
    return MLClient(workspace=workspace.path)


def test_versions_labels_and_string_versions(ml: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("x\n1\n")
    first = ml.data.create_or_update(Data(name="d", path=str(f), type="uri_file"))
    second = ml.data.create_or_update(Data(name="d", path=str(f), type="uri_file"))
    named = ml.data.create_or_update(Data(name="d", version="initial", path=str(f),
                                          type="uri_file", description="first cut"))
    third = ml.data.create_or_update(Data(name="d", path=str(f), type="uri_file"))
    assert [first.version, second.version, named.version, third.version] == ["1", "2", "initial", "3"]
    assert ml.data.get("d", label="latest").version == "3"
    assert ml.data.get("d", version="initial").description == "first cut"
    assert [d.version for d in ml.data.list("d")] == ["3", "initial", "2", "1"]
    with pytest.raises(InvalidInputError, match="Cannot specify both version and label"):
        ml.data.get("d", version="1", label="latest")
    with pytest.raises(InvalidInputError, match="Must provide either version or label"):
        ml.data.get("d")
    with pytest.raises(NotFoundError):
        ml.data.get("d", version="9")


def test_same_version_same_content_is_idempotent_other_content_conflicts(
    ml: MLClient, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a")
    b.write_text("b")
    ml.data.create_or_update(Data(name="v", version="1", path=str(a), type="uri_file"))
    again = ml.data.create_or_update(
        Data(name="v", version="1", path=str(a), type="uri_file", description="now described")
    )
    assert again.description == "now described"  # metadata may change
    with pytest.raises(ConflictError, match="immutable"):
        ml.data.create_or_update(Data(name="v", version="1", path=str(b), type="uri_file"))


def test_uploads_are_copies_later_edits_change_nothing(ml: MLClient, workspace: Workspace,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "part.txt").write_text("original")
    data = ml.data.create_or_update(Data(name="f", version="1", path=str(folder)))
    (folder / "part.txt").write_text("edited")
    stored = ml.data.local_path("f", version="1")
    assert (stored / "part.txt").read_text() == "original"
    assert data.path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")


def test_every_reference_form_resolves(ml: MLClient, workspace: Workspace) -> None:
    env = ml.environments.create_or_update(
        Environment(name="env-a", version="0.2.0", conda_file={"dependencies": ["python=3.11"]})
    )
    service = AssetService(workspace)
    for ref in ("azureml:env-a:0.2.0", "env-a:0.2.0", "env-a@latest", "azureml:env-a@latest",
                f"azureml:/subscriptions/s/resourceGroups/rg/providers/"
                f"Microsoft.MachineLearningServices/workspaces/{workspace.name}/environments/"
                "env-a/versions/0.2.0"):
        assert service.resolve(ref, AssetKind.ENVIRONMENT).version == env.version, ref
    with pytest.raises(NotFoundError, match="registry 'someone'"):
        service.resolve("azureml://registries/someone/environments/env-a/labels/latest",
                        AssetKind.ENVIRONMENT)


def test_datastore_uri_input_resolves(ml: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("hello")
    data = ml.data.create_or_update(Data(name="in", version="1", path=str(f), type="uri_file"))
    job = command(command="cat ${{inputs.f}}", inputs={"f": Input(type="uri_file", path=data.path)})
    assert ml.jobs.validate(job) == []
    missing = command(
        command="cat ${{inputs.f}}",
        inputs={"f": Input(type="uri_file",
                           path="azureml://datastores/workspaceblobstore/paths/nope/x.txt")},
    )
    assert "does not exist" in ml.jobs.validate(missing)[0]
    other_store = command(
        command="cat ${{inputs.f}}",
        inputs={"f": Input(type="uri_file", path="azureml://datastores/elsewhere/paths/x.txt")},
    )
    assert "datastore 'elsewhere' does not exist" in ml.jobs.validate(other_store)[0]


def test_archive_hides_and_restore_brings_back(ml: MLClient, tmp_path: Path) -> None:
    f = tmp_path / "m.bin"
    f.write_bytes(b"\x00model")
    ml.models.create_or_update(Model(name="m", path=str(f)))
    ml.models.create_or_update(Model(name="m", path=str(f)))
    ml.models.archive("m", version="2")
    assert ml.models.get("m", label="latest").version == "1"
    assert [m.version for m in ml.models.list("m")] == ["1"]
    assert [m.version for m in ml.models.list("m", list_view_type="ArchivedOnly")] == ["2"]
    ml.models.restore("m", version="2")
    assert ml.models.get("m", label="latest").version == "2"
    ml.models.archive("m")
    assert ml.models.list() == []


def test_components_dedupe_unchanged_content(ml: MLClient, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "s.py").write_text("print(1)\n")
    node = command(name="c1", command="python s.py", code=tmp_path / "src")
    v1 = ml.components.create_or_update(node.component)
    v1_again = ml.components.create_or_update(node.component)
    (tmp_path / "src" / "s.py").write_text("print(2)\n")
    v2 = ml.components.create_or_update(command(name="c1", command="python s.py",
                                                code=tmp_path / "src").component)
    assert (v1.version, v1_again.version, v2.version) == ("1", "1", "2")
    assert ml.components.get("c1").version == "2"  # components default to the latest


@pytest.mark.parametrize("name", ["../escape", "a/b", "/abs", ".."])
def test_names_that_would_escape_are_rejected(ml: MLClient, tmp_path: Path, name: str) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    with pytest.raises(InvalidInputError):
        ml.data.create_or_update(Data(name=name, path=str(f), type="uri_file"))


def test_output_path_escaping_the_datastore_is_rejected(ml: MLClient) -> None:
    from lakeworks import Output

    job = command(command="true ${{outputs.o}}",
                  outputs={"o": Output(path="azureml://datastores/workspaceblobstore/paths/../../x")})
    with pytest.raises(InvalidInputError, match=r"\.\."):
        ml.jobs.create_or_update(job)


def _add_versions(workspace: str, count: int, out: str) -> None:
    ml = MLClient(workspace=workspace)
    made = []
    for _ in range(count):
        made.append(ml.data.create_or_update(
            Data(name="raced", path="https://example.invalid/x.csv", type="uri_file")).version)
    Path(out).write_text(json.dumps(made))


def test_two_processes_creating_versions_lose_nothing(tmp_path: Path) -> None:
    ws = create_workspace(tmp_path / "ws")
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [ctx.Process(target=_add_versions, args=(str(ws.path), 50, str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    made = [v for o in outs for v in json.loads(o.read_text())]
    assert sorted(made, key=int) == [str(i) for i in range(1, 101)]
    assert len(MLClient(workspace=ws.path).data.list("raced")) == 100
