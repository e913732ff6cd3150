"""Integration tests of the overlay venv builder: real venvs, real pip, no mocks.

Building a venv with ensurepip takes a few seconds, so environments are shared through
module-scoped fixtures; tests that install into an overlay use a scratch environment of their
own. Everything runs offline except the tests marked ``network``.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lakeworks.adapters.envs import VenvEnvironmentBuilder
from lakeworks.adapters.envs.venv import (
    BASE_PTH,
    READY_MARKER,
    BaseInterpreter,
    cache_key,
    decide,
)
from lakeworks.core.environments import EnvironmentPlan
from lakeworks.errors import BackendError, InvalidInputError
from lakeworks.ports.environments import BuiltEnvironment
from lakeworks.testing.wheels import make_wheel

EMPTY = EnvironmentPlan(requirements=())
SATISFIED = EnvironmentPlan(requirements=("pyyaml>=5", 'pywin32; sys_platform == "win32"'))


def _python(env: BuiltEnvironment | str | Path, code: str) -> subprocess.CompletedProcess[str]:
    python = env.python if isinstance(env, BuiltEnvironment) else env
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=False, cwd="/"
    )


def _base_freeze() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _pip_install_offline(env: BuiltEnvironment, wheel: Path) -> None:
    done = subprocess.run(
        [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
            "--no-build-isolation",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> VenvEnvironmentBuilder:
    return VenvEnvironmentBuilder(tmp_path_factory.mktemp("envs"))


@pytest.fixture(scope="module")
def empty_env(builder: VenvEnvironmentBuilder) -> tuple[BuiltEnvironment, list[str]]:
    lines: list[str] = []
    env = builder.build(EMPTY, log=lines.append)
    return env, lines


@pytest.fixture(scope="module")
def scratch_env(tmp_path_factory: pytest.TempPathFactory) -> BuiltEnvironment:
    """An environment the tests may install into (it is not shared with the others)."""
    return VenvEnvironmentBuilder(tmp_path_factory.mktemp("scratch")).build(EMPTY, log=print)


@pytest.fixture(scope="module")
def concurrent_builds(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[BuiltEnvironment, list[str]]]:
    """Two threads building SATISFIED at the same moment in one fresh cache."""
    cache = tmp_path_factory.mktemp("concurrent")
    barrier = threading.Barrier(2)
    results: list[tuple[BuiltEnvironment, list[str]]] = []
    errors: list[BaseException] = []

    def run() -> None:
        lines: list[str] = []
        try:
            barrier.wait()
            env = VenvEnvironmentBuilder(cache).build(SATISFIED, log=lines.append)
            results.append((env, lines))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_empty_plan_env_imports_base_packages_and_lakeworks(
    empty_env: tuple[BuiltEnvironment, list[str]],
) -> None:
    env, lines = empty_env
    assert not env.reused
    assert env.python == env.bin_dir / "python" and env.python.exists()
    assert (env.root / READY_MARKER).is_file()
    done = _python(env, "import yaml, pydantic, lakeworks, sys; print(sys.prefix)")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == env.root
    assert any(env.key[:16] in line and "creating" in line for line in lines)
    assert any(line.endswith("s") and "created in" in line for line in lines)


def test_second_build_reuses_the_environment(
    builder: VenvEnvironmentBuilder, empty_env: tuple[BuiltEnvironment, list[str]]
) -> None:
    first, _ = empty_env
    lines: list[str] = []
    again = builder.build(EMPTY, log=lines.append)
    assert again.reused
    assert again.root == first.root and again.key == first.key
    assert lines == [f"{first.key[:16]}: reused {first.root}"]
    assert builder.locate(EMPTY) == first.root


def test_overlay_install_is_invisible_to_the_base(
    scratch_env: BuiltEnvironment, tmp_path: Path
) -> None:
    before = _base_freeze()
    wheel = make_wheel(tmp_path, "lakeworks_iso_probe", "0.1", "lakeworks_iso_probe", "X = 42\n")
    _pip_install_offline(scratch_env, wheel)
    inside = _python(scratch_env, "import lakeworks_iso_probe as m; print(m.X)")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.strip() == "42"
    outside = _python(sys.executable, "import lakeworks_iso_probe")
    assert outside.returncode != 0
    assert "ModuleNotFoundError" in outside.stderr
    assert _base_freeze() == before


def test_overlay_shadows_a_base_distribution_without_touching_it(
    scratch_env: BuiltEnvironment, tmp_path: Path
) -> None:
    """A newer PyYAML in the overlay wins there; pip leaves the base's PyYAML alone."""
    base_version = importlib.metadata.version("pyyaml")
    before = _base_freeze()
    wheel = make_wheel(tmp_path, "PyYAML", "999.0", "yaml", "__version__ = 'overlay'\n")
    _pip_install_offline(scratch_env, wheel)
    code = "import yaml, importlib.metadata as m; print(yaml.__version__, m.version('pyyaml'))"
    inside = _python(scratch_env, code)
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split() == ["overlay", "999.0"]
    outside = _python(sys.executable, code)
    assert outside.returncode == 0, outside.stderr
    assert outside.stdout.split() == [base_version, base_version]
    assert _base_freeze() == before


def test_overlay_site_packages_precede_the_base(scratch_env: BuiltEnvironment) -> None:
    code = "import json, site, sys; print(json.dumps([site.getsitepackages(), sys.path]))"
    overlay_sites, path = json.loads(_python(scratch_env, code).stdout)
    base_sites, _ = json.loads(_python(sys.executable, code).stdout)
    overlay_site = overlay_sites[0]
    assert overlay_site.startswith(str(scratch_env.root))
    # A path line in an overlay .pth (what an editable install writes) also precedes the base.
    extra = scratch_env.root / "editable-probe"
    extra.mkdir()
    (Path(overlay_site) / "aa_editable_probe.pth").write_text(f"{extra}\n")
    _, path = json.loads(_python(scratch_env, code).stdout)
    base_index = min(path.index(s) for s in base_sites)
    assert path.index(overlay_site) < path.index(str(extra)) < base_index
    assert (Path(overlay_site) / BASE_PTH).read_text().count("site.addsitedir(") == len(base_sites)


def test_requirements_satisfied_by_the_base_install_nothing(
    concurrent_builds: list[tuple[BuiltEnvironment, list[str]]],
) -> None:
    created = [(env, lines) for env, lines in concurrent_builds if not env.reused]
    env, lines = created[0]
    version = importlib.metadata.version("pyyaml")
    assert f"pyyaml>=5: satisfied by installed pyyaml {version}" in lines
    assert any(line.startswith("pywin32; ") and "not needed here" in line for line in lines)
    assert not any(line.startswith("pip: ") for line in lines)
    record = json.loads((env.root / READY_MARKER).read_text())
    assert record["installed"] == []
    assert sorted(record["satisfied_by_base"]) == sorted(SATISFIED.requirements)
    done = _python(env, "import yaml; print(yaml.__file__)")
    assert done.returncode == 0 and not done.stdout.startswith(str(env.root))


def test_concurrent_builds_create_one_environment(
    concurrent_builds: list[tuple[BuiltEnvironment, list[str]]],
) -> None:
    assert len(concurrent_builds) == 2
    assert sorted(env.reused for env, _ in concurrent_builds) == [False, True]
    roots = {env.root for env, _ in concurrent_builds}
    assert len(roots) == 1
    root = roots.pop()
    assert [p.name for p in root.parent.iterdir() if p.is_dir()] == [root.name]
    waiter = next(lines for env, lines in concurrent_builds if env.reused)
    assert any("waiting for another build" in line for line in waiter)


def test_unfinished_build_is_wiped_and_rebuilt(tmp_path: Path) -> None:
    builder = VenvEnvironmentBuilder(tmp_path)
    root = builder.locate(EMPTY)
    root.mkdir(parents=True)
    (root / "half-written").write_text("crashed here")
    lines: list[str] = []
    env = builder.build(EMPTY, log=lines.append)
    assert env.root == root and not env.reused
    assert not (root / "half-written").exists()
    assert (root / READY_MARKER).is_file()
    assert any("unfinished build" in line for line in lines)
    assert _python(env, "import lakeworks").returncode == 0


def test_pip_failure_raises_backend_error_with_its_tail(tmp_path: Path) -> None:
    builder = VenvEnvironmentBuilder(tmp_path, pip_args=("--no-index",))
    plan = EnvironmentPlan(requirements=("lakeworks-no-such-package-xyz==1.0",))
    lines: list[str] = []
    with pytest.raises(BackendError) as info:
        builder.build(plan, log=lines.append)
    message = str(info.value)
    assert "lakeworks-no-such-package-xyz==1.0" in message
    assert "No matching distribution" in message
    assert "PyPI" in message
    assert any(line.startswith("pip: ") for line in lines)
    assert not builder.locate(plan).exists()  # nothing half-built is left in the cache


def test_invalid_requirement_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a valid pip requirement"):
        VenvEnvironmentBuilder(tmp_path).build(EnvironmentPlan(("numpy=1.2",)), log=print)


def _fake_base(**installed: str | None) -> BaseInterpreter:
    return BaseInterpreter(
        python="python",
        realpath="/usr/bin/python3.11",
        version="3.11.7",
        site_dirs=("/base/site-packages",),
        installed=installed,
        markers={"sys_platform": "linux", "python_version": "3.11", "os_name": "posix"},
    )


def test_decide_by_name_version_marker_and_url() -> None:
    base = _fake_base(numpy="2.4.6", pandas="2.2.0", torch=None, weird="not a version")
    reqs = [
        "numpy>=1.21.2",
        "numpy<2",
        "pandas[parquet]>=2",
        "torch",
        'pywin32; sys_platform == "win32"',
        'numpy; python_version >= "3.8"',
        "weird>=1",
        "pkg @ https://example.invalid/pkg-1.0.tar.gz",
    ]
    got = {d.requirement: (d.install, d.reason) for d in decide(reqs, base)}
    assert got["numpy>=1.21.2"] == (False, "satisfied by installed numpy 2.4.6")
    assert got["numpy<2"] == (True, "installed numpy 2.4.6 does not match; installing")
    assert got["pandas[parquet]>=2"][0] is False
    assert got["torch"] == (True, "not installed in the base; installing")
    assert got['pywin32; sys_platform == "win32"'][0] is False
    assert got['numpy; python_version >= "3.8"'][0] is False
    assert got["weird>=1"][0] is True
    assert got["pkg @ https://example.invalid/pkg-1.0.tar.gz"][0] is True


def test_cache_key_follows_content() -> None:
    plan = EnvironmentPlan(("numpy>=1", "pandas"))
    key = cache_key(plan, _fake_base(numpy="2.4.6", pandas="2.2.0"))
    assert key == cache_key(
        EnvironmentPlan(("pandas", "numpy>=1")), _fake_base(numpy="2.4.6", pandas="2.2.0")
    )
    assert key != cache_key(plan, _fake_base(numpy="2.4.7", pandas="2.2.0"))
    assert key != cache_key(plan, _fake_base(numpy="2.4.6", pandas="2.2.0"), ("--no-index",))
    # Versions of packages the plan does not name do not matter.
    assert key == cache_key(plan, _fake_base(numpy="2.4.6", pandas="2.2.0", scipy="1.0"))


@pytest.mark.network
@pytest.mark.slow
def test_requirement_missing_from_the_base_is_installed_from_pypi(tmp_path: Path) -> None:
    try:
        base_six: str | None = importlib.metadata.version("six")
    except importlib.metadata.PackageNotFoundError:
        base_six = None
    lines: list[str] = []
    env = VenvEnvironmentBuilder(tmp_path).build(
        EnvironmentPlan(("six==1.16.0",)), log=lines.append
    )
    assert any(line.startswith("six==1.16.0: ") and "installing" in line for line in lines)
    assert any(line.startswith("pip: ") and "six" in line.lower() for line in lines)
    done = _python(env, "import six; print(six.__version__, six.__file__)")
    version, where = done.stdout.split()
    assert version == "1.16.0" and where.startswith(str(env.root))
    after = _python(sys.executable, "import importlib.metadata as m; print(m.version('six'))")
    assert (after.stdout.strip() or None) == base_six
    assert json.loads((env.root / READY_MARKER).read_text())["installed"] == ["six==1.16.0"]


@pytest.mark.network
def test_unknown_package_on_pypi_raises_backend_error(tmp_path: Path) -> None:
    plan = EnvironmentPlan(("lakeworks-no-such-package-xyz==1.0",))
    with pytest.raises(BackendError, match="lakeworks-no-such-package-xyz"):
        VenvEnvironmentBuilder(tmp_path).build(plan, log=lambda line: None)
