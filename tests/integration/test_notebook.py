"""The notebook magics in a real in-process IPython shell (no Jupyter server).

``%%sql`` on a fresh workspace holding ``bike_data`` (the lab's CSV loaded through the lake
service), parameters bound from Python variables, errors shown without tracebacks, the
``display`` helper, workspace discovery, and ``%%pyspark`` on a real local Spark session
(marked ``spark``; skipped without Java).
"""

# IPython's InteractiveShell.run_cell carries no type hints.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("IPython", reason="IPython is the 'notebook' extra")

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from lakeworks.errors import InvalidInputError, MissingDependencyError, NotFoundError
from lakeworks.notebook import TablePreview, display, load_ipython_extension
from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import Workspace

BIKE_CSV = dataset_path("bike-rentals-daily")


@pytest.fixture
def bare_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """An IPython shell with the extension loaded and no workspace chosen yet."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("LAKEWORKS_WORKSPACE", raising=False)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    try:
        assert ip.run_cell("%load_ext lakeworks.notebook").success
        yield ip
    finally:
        ip.run_line_magic("unload_ext", "lakeworks.notebook")
        InteractiveShell.clear_instance()


@pytest.fixture
def shell(bare_shell: InteractiveShell, workspace: Workspace) -> InteractiveShell:
    """The shell pointed at a fresh workspace whose lake holds ``bike_data``."""
    LakeService(workspace).load("bike_data", str(BIKE_CSV))
    assert bare_shell.run_cell(f"%lakeworks workspace {workspace.path}").success
    return bare_shell


def cell(ip: InteractiveShell, text: str) -> None:
    result = ip.run_cell(text)
    assert result.success, result.error_before_exec or result.error_in_exec


def test_sql_result_is_kept_in_underscore_sql_and_out(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(shell, "%%sql --out counts\nSELECT COUNT(*) AS n FROM bike_data")
    last = shell.user_ns["_sql"]
    assert isinstance(last, pa.Table)
    assert last.to_pylist() == [{"n": 731}]
    assert type(shell.user_ns["counts"]).__name__ == "DataFrame"
    assert shell.user_ns["counts"]["n"].tolist() == [731]
    shown = capsys.readouterr().out
    assert "731" in shown and "(1 row)" in shown


def test_tables_from_earlier_cells_are_visible(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(shell, "%%sql -q\nCREATE TABLE busy AS SELECT * FROM bike_data WHERE rentals > 6000")
    cell(shell, "%%sql -n 5\nSELECT * FROM busy ORDER BY rentals DESC")
    total = shell.user_ns["_sql"].num_rows
    assert total > 5
    cell(shell, "%lakeworks tables")
    shown = capsys.readouterr().out
    assert f"(showing 5 of {total} rows)" in shown
    assert "default.busy" in shown and "default.bike_data" in shown


def test_sql_error_shows_the_engine_message_without_a_traceback(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(shell, "%%sql\nSELECT 1 AS one")
    before = shell.user_ns["_sql"]
    result = shell.run_cell("%%sql\nSELECT\n  nope FROM bike_data")  # does not raise
    assert not result.success
    assert isinstance(result.error_in_exec, InvalidInputError)
    shown = "".join(capsys.readouterr())
    assert '"nope" not found' in shown and "line 2, column 3" in shown
    assert "Traceback" not in shown and "notebook.py" not in shown
    assert shell.user_ns["_sql"] is before


def test_python_variables_and_params_are_bound(shell: InteractiveShell) -> None:
    cell(shell, "start = '2012-01-01'\nlow = 1000")
    cell(shell, "%%sql -q\nSELECT COUNT(*) AS n FROM bike_data WHERE dteday >= $start")
    assert shell.user_ns["_sql"].column("n").to_pylist() == [366]
    cell(shell, "%%sql -q\nSELECT COUNT(*) AS n FROM bike_data\n"
                "WHERE dteday >= :start AND rentals < :LOW")
    low_2012 = shell.user_ns["_sql"].column("n").to_pylist()[0]
    assert 0 < low_2012 < 366
    cell(shell, "%%sql -q --param start=2012-12-01\n"
                "SELECT COUNT(*) AS n FROM bike_data WHERE dteday >= $start")
    assert shell.user_ns["_sql"].column("n").to_pylist() == [31]


def test_a_malicious_string_is_only_a_value(shell: InteractiveShell) -> None:
    shell.user_ns["evil"] = "spring' OR '1'='1"
    cell(shell, "%%sql -q\nSELECT COUNT(*) AS n FROM bike_data WHERE season = $evil")
    assert shell.user_ns["_sql"].column("n").to_pylist() == [0]
    shell.user_ns["evil"] = "x'; DROP TABLE bike_data; --"
    cell(shell, "%%sql -q\nSELECT $evil AS v")
    assert shell.user_ns["_sql"].column("v").to_pylist() == ["x'; DROP TABLE bike_data; --"]
    cell(shell, "%%sql -q\nSELECT COUNT(*) AS n FROM bike_data")
    assert shell.user_ns["_sql"].column("n").to_pylist() == [731]


def test_missing_and_unbindable_parameters_are_named(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.run_cell("%%sql\nSELECT $nowhere")
    assert isinstance(result.error_in_exec, InvalidInputError)
    shell.user_ns["frame"] = pa.table({"a": [1]})
    result = shell.run_cell("%%sql\nSELECT $frame")
    assert isinstance(result.error_in_exec, InvalidInputError)
    shown = capsys.readouterr().out
    assert "--param nowhere=VALUE" in shown
    assert "'frame', a Table" in shown
    assert not shell.run_cell("%%sql --param oops\nSELECT 1").success  # not NAME=VALUE


def test_display_helper_and_html(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(shell, "import pyarrow as pa\nt = pa.table({'a': list(range(30)), 'b': ['<b>'] * 30})")
    cell(shell, "display(t)\ndisplay(t.to_pandas(), limit=3)")
    shown = capsys.readouterr().out
    assert "(showing 20 of 30 rows)" in shown and "(showing 3 of 30 rows)" in shown
    assert shell.display_formatter is not None
    formatted, _ = shell.display_formatter.format(TablePreview.of(shell.user_ns["t"], 2))
    page = formatted["text/html"]
    assert page.count("<tr>") == 3 and "&lt;b&gt;" in page and "<b>" not in page
    assert "(showing 2 of 30 rows)" in page


def test_display_is_injected_only_when_absent(bare_shell: InteractiveShell) -> None:
    assert bare_shell.user_ns["display"] is display
    mine = object()
    bare_shell.user_ns["display"] = mine
    load_ipython_extension(bare_shell)  # what %load_ext calls
    assert bare_shell.user_ns["display"] is mine


def test_workspace_comes_from_env_or_the_nearest_folder(
    bare_shell: InteractiveShell,
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inside = workspace.path / "notebooks"
    inside.mkdir()
    monkeypatch.chdir(inside)
    cell(bare_shell, "%lakeworks workspace")
    assert str(workspace.path) in capsys.readouterr().out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("LAKEWORKS_WORKSPACE", str(workspace.path))
    load_ipython_extension(bare_shell)  # a new kernel state: no workspace chosen
    cell(bare_shell, "%%sql -q\nSELECT 1 AS one")
    cell(bare_shell, "%lakeworks workspace")
    assert str(workspace.path) in capsys.readouterr().out


def test_no_workspace_is_a_short_error(
    bare_shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if any((p / "lakeworks.toml").exists() or (p / ".azureml").exists()
           for p in tmp_path.parents):
        pytest.skip("a folder above the test's tmp_path holds a workspace configuration")
    monkeypatch.chdir(tmp_path)
    result = bare_shell.run_cell("%%sql\nSELECT 1")
    assert isinstance(result.error_in_exec, NotFoundError)
    result = bare_shell.run_cell(f"%lakeworks workspace {tmp_path}")
    assert isinstance(result.error_in_exec, NotFoundError)
    assert "Traceback" not in capsys.readouterr().out


def test_import_without_ipython_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "IPython" or n.startswith("IPython.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.delitem(sys.modules, "lakeworks.notebook", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'lakeworks\[notebook\]'"):
        importlib.import_module("lakeworks.notebook")


# -- %%pyspark -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark_stopped_at_end() -> Iterator[None]:
    sql = pytest.importorskip("pyspark.sql", reason="PySpark is the 'spark' extra")
    yield
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.mark.spark
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java 17+ on PATH")
def test_pyspark_cell_uses_the_lake_session(
    shell: InteractiveShell, spark_stopped_at_end: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(shell, "%%pyspark --conf spark.sql.shuffle.partitions=2\n"
                "rentals = spark.table('bike_data').count()")
    assert shell.user_ns["rentals"] == 731
    assert type(shell.user_ns["spark"]).__name__ == "SparkSession"  # injected for later cells
    cell(shell, "%%sql -q\nCREATE TABLE busy AS SELECT * FROM bike_data WHERE rentals > 6000")
    busy = shell.user_ns["_sql"].column("rows").to_pylist()[0]
    cell(shell, "%%pyspark\nbusy = spark.table('busy')\ndisplay(busy, limit=3)\n"
                "busy_rows = busy.count()")
    assert shell.user_ns["busy_rows"] == busy > 3  # a table made by SQL after Spark started
    assert "(first 3 rows)" in capsys.readouterr().out
    failed = shell.run_cell("%%pyspark\nspark.table('no_such_table')")
    assert not failed.success
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(failed.error_in_exec)
