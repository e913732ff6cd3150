"""YAML loading errors that point at file, line and field; the ways to open a workspace."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from lakeworks import MLClient, load_component, load_job
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.identity import DefaultAzureCredential
from lakeworks.services.workspace import Workspace, create_workspace


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yml", """
        name: c
        command: python x.py
        inputs:
          a: [unclosed
    """)
    with pytest.raises(InvalidInputError) as err:
        load_component(f)
    assert str(f) in str(err.value) and err.value.line is not None and err.value.line >= 4


def test_unknown_field_names_line_field_and_allowed(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yml", """
        name: c
        command: python x.py
        inputs:
          lr:
            type: number
            defualt: 0.1
    """)
    with pytest.raises(InvalidInputError) as err:
        load_component(f)
    e = err.value
    assert (e.line, e.field) == (6, "inputs.lr.defualt")
    assert e.allowed is not None and "default" in e.allowed
    assert "unknown field 'defualt'" in str(e)


def test_mistyped_type_lists_allowed_values(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yml", """
        type: comand
        name: c
        command: python x.py
    """)
    with pytest.raises(InvalidInputError) as err:
        load_component(f)
    assert err.value.line == 1 and err.value.allowed == ["command"]


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yml", """
        name: c
        command: python x.py
        name: d
    """)
    with pytest.raises(InvalidInputError, match="duplicate key 'name'"):
        load_component(f)


def test_set_overrides_apply_before_validation(tmp_path: Path) -> None:
    f = write(tmp_path / "job.yml", """
        type: command
        command: echo ${{inputs.n}}
        inputs:
          n: 1
    """)
    job = load_job(f, params_override=[{"inputs.n": 5}, "display_name=five"])
    assert job.inputs["n"] == 5 and job.display_name == "five"


def test_pipeline_cycle_in_yaml_is_rejected_before_running(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    write(tmp_path / "step.yml", """
        name: step
        command: cp -r ${{inputs.src}} ${{outputs.out}}
        inputs: {src: {type: uri_folder}}
        outputs: {out: {type: uri_folder}}
    """)
    f = write(tmp_path / "p.yml", """
        type: pipeline
        jobs:
          a:
            component: ./step.yml
            inputs: {src: "${{parent.jobs.b.outputs.out}}"}
          b:
            component: ./step.yml
            inputs: {src: "${{parent.jobs.a.outputs.out}}"}
    """)
    ml = MLClient(workspace=workspace.path)
    with pytest.raises(InvalidInputError, match="cycle"):
        ml.jobs.create_or_update(load_job(f))
    assert ml.jobs.list() == []


def test_missing_component_file_is_named(tmp_path: Path) -> None:
    f = write(tmp_path / "p.yml", """
        type: pipeline
        jobs:
          a:
            component: ./nope.yml
    """)
    with pytest.raises(NotFoundError, match=r"nope\.yml"):
        load_job(f)


def test_from_config_finds_the_nearest_workspace(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ws = create_workspace(tmp_path / "proj", name="proj")
    deep = tmp_path / "proj" / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    client = MLClient.from_config(DefaultAzureCredential())
    assert client.workspaces.get().name == "proj"
    assert client.workspace_path == ws.path
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match="lakeworks workspace create"):
        MLClient.from_config()


def test_azure_config_json_and_workspace_name_open_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWORKS_WORKSPACE_ROOT", str(tmp_path / "root"))
    (tmp_path / "app" / ".azureml").mkdir(parents=True)
    (tmp_path / "app" / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "sub", "resource_group": "rg-ml", "workspace_name": "team-ws"}))
    client = MLClient.from_config(path=tmp_path / "app")
    ws = client.workspaces.get("team-ws")
    assert (ws.name, ws.resource_group, ws.location) == ("team-ws", "rg-ml", "local")
    assert (tmp_path / "root" / "team-ws" / "lakeworks.toml").is_file()
    same = MLClient(DefaultAzureCredential(), "sub", "rg-ml", "team-ws")
    assert same.workspace_path == client.workspace_path
    with pytest.raises(NotFoundError):
        same.workspaces.get("another-ws")


def test_workspace_settings_file_is_honoured(tmp_path: Path) -> None:
    ws = create_workspace(tmp_path / "w", settings={"max_parallel_steps": 3})
    assert ws.settings.max_parallel_steps == 3
    assert os.environ.get("LAKEWORKS_MAX_PARALLEL_STEPS") is None
