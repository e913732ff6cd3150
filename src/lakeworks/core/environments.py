"""Environment policy: from an Azure environment spec to pip requirements this machine can honour.

Owns the rules, each of which leaves a note for the job log (nothing is substituted silently):

* Steps run on the Python Lakeworks runs on. A conda ``python=3.8`` pin that differs is noted,
  and then every version pin of that environment was chosen for another Python: ``==X`` and
  conda ``=X`` become ``>=X`` and upper bounds are dropped (an old pin such as
  ``pandas<1.2`` has no wheel for a newer Python).
* ``pip`` itself, conda-only packages (``mkl``, ``cudatoolkit``, ...) and pip options are
  skipped; conda names map to PyPI names (``pytorch`` -> ``torch``).
* Azure-only packages (``azureml-*``) are dropped: MLflow already records into the workspace.
* ``image`` and Docker ``build`` contexts are not run; a build context's requirements file or
  conda file is read instead.
* Azure curated environments (``sklearn-1.5``, ``AzureML-sklearn-1.5``) map to local
  requirements satisfied by Lakeworks' own dependencies.

Pure functions over specs; reading files and installing packages are the builder's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lakeworks.core.assets import EnvironmentSpec
from lakeworks.errors import InvalidInputError

POLICY_VERSION = "1"

CONDA_ONLY = frozenset(
    {
        "_libgcc_mutex", "_openmp_mutex", "blas", "ca-certificates", "cudatoolkit", "cudnn",
        "cuda-toolkit", "cuda-version", "intel-openmp", "ld_impl_linux-64", "libblas",
        "libcblas", "libffi", "libgcc", "libgcc-ng", "libgfortran-ng", "libgomp", "liblapack",
        "libstdcxx-ng", "libuuid", "libzlib", "mkl", "mkl-service", "mkl_fft", "mkl_random",
        "nccl", "ncurses", "openmpi", "openssl", "readline", "sqlite", "tk", "tzdata",
        "xz", "zlib", "zstd", "nomkl", "conda", "setuptools", "wheel",
    }
)

CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "pyqt": "PyQt5",
    "lightgbm-cpu": "lightgbm",
}

#: Curated environment families -> requirements met by Lakeworks' own dependencies.
CURATED: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn", "pandas", "numpy", "scipy", "mlflow", "joblib"),
    "mlflow": ("mlflow", "pandas", "numpy"),
    "minimal": (),
    "lightgbm": ("lightgbm", "scikit-learn", "pandas", "numpy", "mlflow"),
    "xgboost": ("xgboost", "scikit-learn", "pandas", "numpy", "mlflow"),
    "pytorch": ("torch", "numpy", "mlflow"),
    "acpt-pytorch": ("torch", "numpy", "mlflow"),
    "tensorflow": ("tensorflow", "numpy", "mlflow"),
    "responsibleai": ("scikit-learn", "pandas", "numpy", "mlflow"),
}

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_CURATED_NAME = re.compile(r"^(?:azureml-)?(?P<family>[a-z]+(?:-[a-z]+)?)-(?P<ver>[0-9][0-9.]*)", re.I)


@dataclass(frozen=True)
class EnvironmentPlan:
    """What the builder must provide: pip requirements plus the notes for the job log."""

    requirements: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not self.requirements


def normalize_name(name: str) -> str:
    """PEP 503 normalisation of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_req(req: str) -> tuple[str, str, str]:
    m = _REQ_NAME.match(req)
    if not m:
        raise InvalidInputError(f"requirement {req!r} is not a package name with a version spec")
    return m.group(1), m.group(2) or "", m.group(3).strip()


def _relax(spec: str) -> str:
    """Turn a version spec written for another Python into a lower bound (or nothing)."""
    lower = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        m = re.match(r"^(==|>=|~=|>|===)\s*([^\s;]+)$", part)
        if m:
            version = m.group(2).rstrip(".*")
            op = ">" if m.group(1) == ">" else ">="
            lower.append(f"{op}{version}")
    return ",".join(lower)


def _conda_to_pip(dep: str) -> tuple[str | None, str | None]:
    """Translate one conda dependency; returns (pip requirement, note) or (None, note)."""
    text = dep.split("::", 1)[-1].strip()
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(.*)$", text)
    if not m:
        return None, f"conda dependency {dep!r} could not be read; skipped"
    name, spec = m.group(1), m.group(2).strip()
    lname = name.lower()
    if lname in CONDA_ONLY:
        return None, f"conda-only package {name!r} has no PyPI equivalent here; skipped"
    pypi = CONDA_TO_PYPI.get(lname, name)
    note = f"conda package {name!r} installs from PyPI as {pypi!r}" if pypi != name else None
    if spec.startswith("=") and not spec.startswith("=="):
        # conda's "=1.21.2" (optionally "=1.21.2=buildstring") and fuzzy "=1.21" (1.21.*).
        version = spec[1:].split("=", 1)[0]
        spec = f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
    elif " " in spec:
        spec = spec.replace(" ", "")
    return f"{pypi}{spec}", note


def _python_pin(deps: list[Any]) -> str | None:
    for dep in deps:
        if isinstance(dep, str):
            m = re.match(r"^\s*python\s*(.*)$", dep.split("::", 1)[-1])
            if m and not re.match(r"^\s*[A-Za-z_\-]", m.group(1)):
                return m.group(1).strip() or None
    return None


def _python_matches(pin: str, host: tuple[int, int, int]) -> bool:
    text = pin.lstrip("=<>~! ")
    parts = [int(p) for p in re.findall(r"\d+", text)[:2]]
    if pin.startswith((">", "<", "!")):
        return not pin.startswith("<")
    return parts[: len(parts)] == list(host[: len(parts)])


def plan_from_conda(
    conda: dict[str, Any], host: tuple[int, int, int], *, source: str = "conda file"
) -> EnvironmentPlan:
    """Plan pip requirements from a parsed conda environment file.

    Args:
        conda: the parsed YAML (``name``, ``channels``, ``dependencies`` with a ``pip`` list).
        host: the running Python's version as a tuple.
        source: where the conda file came from, for messages.

    Example:
        >>> plan = plan_from_conda({"dependencies": ["python=3.8", "numpy=1.21.2"]}, (3, 11, 7))
        >>> plan.requirements
        ('numpy>=1.21.2',)
    """
    deps = conda.get("dependencies") or []
    if not isinstance(deps, list):
        raise InvalidInputError(f"{source}: 'dependencies' must be a list", field="dependencies")
    notes: list[str] = []
    reqs: list[str] = []
    pin = _python_pin(deps)
    host_text = ".".join(map(str, host))
    mismatch = pin is not None and not _python_matches(pin, host)
    if pin is not None:
        if mismatch:
            notes.append(
                f"python{pin if pin[0] in '<>=!~' else '=' + pin} requested; running on "
                f"Python {host_text}, the Python Lakeworks runs on. Version pins of this "
                "environment were chosen for that other Python and are read as lower bounds."
            )
        else:
            notes.append(f"python{pin} requested; running on Python {host_text}")
    for dep in deps:
        if isinstance(dep, dict):
            pip_list = dep.get("pip")
            if pip_list is None:
                raise InvalidInputError(
                    f"{source}: a mapping in 'dependencies' must be a 'pip:' list",
                    field="dependencies",
                )
            for item in pip_list:
                req, note = _pip_line(str(item))
                if note:
                    notes.append(note)
                if req:
                    reqs.append(req)
            continue
        text = str(dep)
        bare = text.split("::", 1)[-1].strip()
        if re.match(r"^python(\s|[=<>!~]|$)", bare):
            continue
        if re.match(r"^pip(\s|[=<>!~]|$)", bare):
            notes.append(f"{bare!r} ignored: environments use the pip that ships with Python")
            continue
        req, note = _conda_to_pip(text)
        if note:
            notes.append(note)
        if req:
            reqs.append(req)
    return _finish(reqs, notes, relax=mismatch)


def _pip_line(line: str) -> tuple[str | None, str | None]:
    text = line.split("#", 1)[0].strip()
    if not text:
        return None, None
    if text.startswith("-"):
        return None, f"pip option {text!r} is not applied; skipped"
    return text, None


def plan_from_requirements(lines: list[str] | tuple[str, ...]) -> EnvironmentPlan:
    """Plan from pip requirement lines (a requirements.txt's content, split into lines)."""
    notes: list[str] = []
    reqs: list[str] = []
    for line in lines:
        req, note = _pip_line(line)
        if note:
            notes.append(note)
        if req:
            reqs.append(req)
    return _finish(reqs, notes, relax=False)


def _finish(reqs: list[str], notes: list[str], *, relax: bool) -> EnvironmentPlan:
    out: dict[str, str] = {}
    for req in reqs:
        name, extras, spec = _split_req(req)
        marker = ""
        if ";" in spec:
            spec, marker = (s.strip() for s in spec.split(";", 1))
            marker = f"; {marker}"
        norm = normalize_name(name)
        if norm.startswith("azureml-") or norm in ("azure-ai-ml", "azureml"):
            notes.append(
                f"{name} is Azure-only and is dropped: "
                + (
                    "MLflow already records into the workspace"
                    if "mlflow" in norm
                    else "Lakeworks provides its local counterpart"
                )
            )
            continue
        if relax and spec:
            relaxed = _relax(spec)
            if relaxed != spec:
                notes.append(
                    f"{name}{spec} relaxed to {name}{relaxed or ' (any version)'} "
                    "(pinned for another Python)"
                )
            spec = relaxed
        out[norm] = f"{name}{extras}{spec}{marker}"
    return EnvironmentPlan(requirements=tuple(out[k] for k in sorted(out)), notes=tuple(notes))


def curated_plan(reference: str) -> EnvironmentPlan | None:
    """Map an Azure curated environment reference to a local plan, or None if not curated.

    Curated references are registry references under ``azureml`` or names starting with
    ``AzureML-``, e.g. ``azureml://registries/azureml/environments/sklearn-1.5/labels/latest``.
    """
    name = None
    m = re.match(r"^azureml://registries/azureml/environments/([^/]+)", reference)
    if m:
        name = m.group(1)
    else:
        body = reference.removeprefix("azureml:")
        base = re.split(r"[@:]", body, maxsplit=1)[0]
        if base.lower().startswith("azureml-"):
            name = base
    if name is None:
        return None
    cm = _CURATED_NAME.match(name)
    family = cm.group("family").lower() if cm else name.lower()
    for key in sorted(CURATED, key=len, reverse=True):
        if family == key or family.startswith(key + "-") or family.startswith(key):
            reqs = CURATED[key]
            return EnvironmentPlan(
                requirements=tuple(sorted(reqs)),
                notes=(
                    f"curated environment '{name}' maps to the local environment "
                    f"({', '.join(sorted(reqs)) or 'no extra packages'}); installed versions "
                    "are used rather than the curated image's pins",
                ),
            )
    return EnvironmentPlan(
        requirements=(),
        notes=(
            f"curated environment '{name}' is not known to Lakeworks; using the base "
            "environment with no extra packages",
        ),
    )


def plan_environment(
    env: EnvironmentSpec,
    host: tuple[int, int, int],
    *,
    build_conda: dict[str, Any] | None = None,
    build_requirements: list[str] | None = None,
) -> EnvironmentPlan:
    """Plan the requirements of an environment spec.

    Args:
        env: the environment (conda file, requirements, image, build).
        host: the running Python's version.
        build_conda: for a Docker build context, its parsed ``conda.yaml``/``environment.yml``.
        build_requirements: for a Docker build context, the lines of its ``requirements.txt``.
    """
    notes: list[str] = []
    reqs: list[str] = []
    if env.image:
        notes.append(
            f"image '{env.image}' is not run: steps run on this machine's Python "
            f"{'.'.join(map(str, host))} in a virtual environment"
        )
    if env.build is not None:
        notes.append(
            "Docker build context: the Dockerfile is not run"
            + ("; its requirements/conda file is used" if build_conda or build_requirements else "")
        )
    parts: list[EnvironmentPlan] = []
    if env.conda_file is not None:
        parts.append(plan_from_conda(env.conda_file, host))
    if env.requirements:
        parts.append(plan_from_requirements(list(env.requirements)))
    if build_conda is not None:
        parts.append(plan_from_conda(build_conda, host, source="build context conda file"))
    if build_requirements is not None:
        parts.append(plan_from_requirements(build_requirements))
    for p in parts:
        reqs.extend(p.requirements)
        notes.extend(p.notes)
    merged = _finish(reqs, [], relax=False)
    return EnvironmentPlan(requirements=merged.requirements, notes=tuple(notes))
