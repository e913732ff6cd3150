"""Overlay virtual environments: cached venvs layered over the environment Lakeworks runs in.

Owns probing the base interpreter, deciding which plan requirements the base already
satisfies, creating a stdlib ``venv`` (pip via ensurepip, offline) whose ``.pth`` file adds the
base's site directories *after* its own, installing the rest with pip, and the content-keyed
cache with its file lock and ready marker. Must not print the plan's notes (the caller does)
and must never install into, or otherwise change, the base environment.

Layout of the cache::

    <cache_dir>/<key[:16]>/                 the venv, built in place (its scripts embed this path)
    <cache_dir>/<key[:16]>/.lakeworks-ready  written last; a folder without it is a crashed build
    <cache_dir>/<key>.lock                  flock'ed while the environment is checked or built
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lakeworks.adapters.envs.scratch import scratch_layer
from lakeworks.core.environments import POLICY_VERSION, EnvironmentPlan
from lakeworks.errors import BackendError, InvalidInputError
from lakeworks.ports.environments import BuiltEnvironment

log = logging.getLogger(__name__)

READY_MARKER = ".lakeworks-ready"
BASE_PTH = "~lakeworks-base.pth"  # "~" sorts last: the overlay's own .pth paths come first
_TAIL_LINES = 30
_INSTALL_HINT = (
    "Check that PyPI (or the index configured for pip, e.g. PIP_INDEX_URL) is reachable from "
    "this machine, or pin the package differently in the environment's conda or requirements "
    "file. pip's full output is in the step's log."
)

# Run by the base interpreter: what the overlay stacks on, and what it has installed.
_PROBE = r"""
import importlib.metadata as md, json, os, platform as p, site, sys
dirs = ([site.getusersitepackages()] if site.ENABLE_USER_SITE else []) + site.getsitepackages()
dirs = [d for i, d in enumerate(dirs) if os.path.isdir(d) and d not in dirs[:i]]
installed = {}
for name in json.loads(sys.argv[1]):
    try:
        installed[name] = md.version(name)
    except md.PackageNotFoundError:
        installed[name] = None
iv = sys.implementation.version
impl = f"{iv.major}.{iv.minor}.{iv.micro}"
impl += "" if iv.releaselevel == "final" else iv.releaselevel[0] + str(iv.serial)
markers = dict(
    implementation_name=sys.implementation.name, implementation_version=impl, os_name=os.name,
    sys_platform=sys.platform, platform_machine=p.machine(), platform_release=p.release(),
    platform_system=p.system(), platform_version=p.version(),
    platform_python_implementation=p.python_implementation(),
    python_full_version=p.python_version(), python_version=".".join(p.python_version_tuple()[:2]),
)
print(json.dumps(dict(realpath=os.path.realpath(sys.executable), version=sys.version,
                      site_dirs=dirs, installed=installed, markers=markers)))
"""


@dataclass(frozen=True)
class BaseInterpreter:
    """The environment an overlay stacks on, as its interpreter reports it."""

    python: str
    realpath: str
    version: str
    site_dirs: tuple[str, ...]
    installed: Mapping[str, str | None]  # canonical name -> version, None if absent
    markers: Mapping[str, str]  # PEP 508 marker environment


@dataclass(frozen=True)
class Decision:
    """Whether one requirement of a plan is installed into the overlay, and why."""

    requirement: str
    install: bool
    reason: str

    def describe(self) -> str:
        return f"{self.requirement}: {self.reason}"


def _parse(req: str) -> Requirement:
    try:
        return Requirement(req)
    except InvalidRequirement as exc:
        raise InvalidInputError(
            f"requirement {req!r} is not a valid pip requirement ({exc}); expected a name with "
            "an optional version spec, such as 'numpy>=1.21'"
        ) from exc


def requirement_names(requirements: Sequence[str]) -> list[str]:
    """The canonical distribution names a list of requirements refers to, sorted."""
    return sorted({canonicalize_name(_parse(r).name) for r in requirements})


def probe_base(python: str, names: Sequence[str] = ()) -> BaseInterpreter:
    """Ask ``python`` for its version, site directories and the versions of ``names``.

    Raises:
        BackendError: the interpreter could not be run or answered something unreadable.
    """
    try:
        done = subprocess.run(
            [python, "-P", "-c", _PROBE, json.dumps(list(names))],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise BackendError(f"could not run the base Python '{python}': {exc}") from exc
    if done.returncode != 0:
        raise BackendError(
            f"the base Python '{python}' failed to describe itself (exit {done.returncode}):\n"
            f"{_tail(done.stderr)}"
        )
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise BackendError(
            f"the base Python '{python}' printed something unreadable: {done.stdout[:200]!r}"
        ) from exc
    return BaseInterpreter(
        python=python,
        realpath=data["realpath"],
        version=data["version"],
        site_dirs=tuple(data["site_dirs"]),
        installed=dict(data["installed"]),
        markers=dict(data["markers"]),
    )


def decide(requirements: Sequence[str], base: BaseInterpreter) -> list[Decision]:
    """Decide, per requirement, whether the base satisfies it (by name and version).

    Extras are not checked: ``pandas[parquet]>=2`` is satisfied by an installed pandas 2.x.
    Requirements whose marker is false here need nothing; direct references
    (``name @ url``) are always installed.

    Example:
        >>> base = BaseInterpreter("python", "/usr/bin/python3.11", "3.11.7", (),
        ...                        {"numpy": "2.4.6"}, {"sys_platform": "linux"})
        >>> [d.describe() for d in decide(["numpy>=1.21.2"], base)]
        ['numpy>=1.21.2: satisfied by installed numpy 2.4.6']
    """
    return [_decide_one(text, base) for text in requirements]


def _decide_one(text: str, base: BaseInterpreter) -> Decision:
    req = _parse(text)
    if req.marker is not None and not req.marker.evaluate({**base.markers, "extra": ""}):
        return Decision(text, False, f"not needed here (marker '{req.marker}' is false)")
    if req.url:
        return Decision(text, True, "direct reference; installing into the environment")
    installed = base.installed.get(canonicalize_name(req.name))
    if installed is None:
        return Decision(text, True, "not installed in the base; installing")
    try:
        ok = req.specifier.contains(Version(installed), prereleases=True)
    except InvalidVersion:
        ok = False
    if ok:
        return Decision(text, False, f"satisfied by installed {req.name} {installed}")
    return Decision(text, True, f"installed {req.name} {installed} does not match; installing")


def cache_key(plan: EnvironmentPlan, base: BaseInterpreter, pip_args: Sequence[str] = ()) -> str:
    """The content key of the environment for ``plan`` over ``base`` (sha256 hex)."""
    names = requirement_names(plan.requirements)
    payload = {
        "policy": POLICY_VERSION,
        "python": base.realpath,
        "version": base.version,
        "site_dirs": list(base.site_dirs),
        "requirements": sorted(plan.requirements),
        "installed": {n: base.installed.get(n) for n in names},
        "pip_args": list(pip_args),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@contextmanager
def _exclusive(path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (threads and processes alike)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class VenvEnvironmentBuilder:
    """Builds overlay venvs over the environment Lakeworks runs in, cached by content.

    Args:
        cache_dir: where environments and their lock files live.
        base_python: the interpreter whose environment the overlays stack on.
        pip_args: extra arguments for every ``pip install`` (``--no-index``, an index URL);
            they are part of the cache key.

    Example:
        >>> builder = VenvEnvironmentBuilder(Path("/tmp/lakeworks-envs"))  # doctest: +SKIP
        >>> env = builder.build(EnvironmentPlan(("pyyaml>=5",)), log=print)  # doctest: +SKIP
        4f1c2a9d0b7e6a35: creating /tmp/lakeworks-envs/4f1c2a9d0b7e6a35
        pyyaml>=5: satisfied by installed pyyaml 6.0.4
        4f1c2a9d0b7e6a35: created in 3.6s
    """

    def __init__(
        self, cache_dir: Path, base_python: str = sys.executable, *, pip_args: Sequence[str] = ()
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.base_python = base_python
        self.pip_args = tuple(pip_args)
        # Environments found or built by this builder, by requirements: a runner asks for the
        # same environment for many steps, and the base does not change while it runs.
        self._memo: dict[tuple[str, ...], BuiltEnvironment] = {}

    def locate(self, plan: EnvironmentPlan) -> Path:
        """Where the environment for ``plan`` lives (or will), without building it."""
        base = probe_base(self.base_python, requirement_names(plan.requirements))
        return self.cache_dir / cache_key(plan, base, self.pip_args)[:16]

    def build(self, plan: EnvironmentPlan, log: Callable[[str], None]) -> BuiltEnvironment:
        """Return the environment for ``plan``, building it unless a finished one is cached.

        Concurrent callers (threads or processes) for the same plan build it once; the others
        wait on the lock and reuse it.

        Raises:
            InvalidInputError: a requirement is not a valid pip requirement.
            BackendError: the venv could not be created or pip failed; the message has the
                tail of pip's output.
        """
        known = self._memo.get(plan.requirements)
        if known is not None and (known.root / READY_MARKER).is_file():
            log(f"{known.key[:16]}: reused {known.root}")
            return known
        base = probe_base(self.base_python, requirement_names(plan.requirements))
        key = cache_key(plan, base, self.pip_args)
        short = key[:16]
        root = self.cache_dir / short
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(
            self.cache_dir / f"{key}.lock",
            lambda: log(f"{short}: waiting for another build of this environment to finish"),
        ):
            built = self._finished(key, root)
            if built is not None:
                log(f"{short}: reused {root}")
                self._memo[plan.requirements] = built
                return built
            if root.exists():
                log(f"{short}: {root} is an unfinished build (no {READY_MARKER}); rebuilding")
                shutil.rmtree(root)
            started = time.monotonic()
            log(f"{short}: creating {root}")
            try:
                self._create(root, base, plan, key, log)
            except BaseException:
                shutil.rmtree(root, ignore_errors=True)
                raise
            log(f"{short}: created in {time.monotonic() - started:.1f}s")
            self._memo[plan.requirements] = _built(key, root, reused=True)
            return _built(key, root, reused=False)

    def scratch(self, env: BuiltEnvironment, dest: Path) -> BuiltEnvironment:
        """A throwaway layer over ``env`` for one step (see ``scratch.scratch_layer``)."""
        return scratch_layer(env, dest)

    def _finished(self, key: str, root: Path) -> BuiltEnvironment | None:
        marker = root / READY_MARKER
        if not marker.is_file() or not (root / "bin" / "python").exists():
            return None
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8")).get("key")
        except (OSError, json.JSONDecodeError, AttributeError):
            return None
        return _built(key, root, reused=True) if recorded == key else None

    def _create(
        self,
        root: Path,
        base: BaseInterpreter,
        plan: EnvironmentPlan,
        key: str,
        emit: Callable[[str], None],
    ) -> None:
        _run_quiet([base.python, "-m", "venv", str(root)], what=f"creating the venv {root}")
        python = root / "bin" / "python"
        purelib = _run_quiet(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            what=f"asking {python} for its site-packages",
        ).strip()
        lines = [f"import site; site.addsitedir({d!r})" for d in base.site_dirs]
        Path(purelib, BASE_PTH).write_text("\n".join(lines) + "\n", encoding="utf-8")
        decisions = decide(plan.requirements, base)
        for decision in decisions:
            emit(decision.describe())
        wanted = [d.requirement for d in decisions if d.install]
        if wanted:
            self._pip_install(python, wanted, emit)
        record = {
            "key": key,
            "policy_version": POLICY_VERSION,
            "base_python": base.python,
            "base_version": base.version,
            "base_site_dirs": list(base.site_dirs),
            "requirements": list(plan.requirements),
            "installed": wanted,
            "satisfied_by_base": [d.requirement for d in decisions if not d.install],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = root / f"{READY_MARKER}.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, root / READY_MARKER)

    def _pip_install(self, python: Path, reqs: list[str], emit: Callable[[str], None]) -> None:
        cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        cmd += [*self.pip_args, *reqs]
        log.debug("running %s", cmd)
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise BackendError(f"could not run pip in {python}: {exc}") from exc
        assert proc.stdout is not None
        with proc:
            for raw in proc.stdout:
                line = raw.rstrip()
                tail.append(line)
                emit(f"pip: {line}")
        if proc.returncode != 0:
            raise BackendError(
                f"pip could not install {', '.join(reqs)} (exit {proc.returncode}). "
                f"Last lines of its output:\n" + "\n".join(tail) + f"\n{_INSTALL_HINT}"
            )


def _built(key: str, root: Path, *, reused: bool) -> BuiltEnvironment:
    bin_dir = root / "bin"
    return BuiltEnvironment(
        key=key, root=root, bin_dir=bin_dir, python=bin_dir / "python", reused=reused
    )


def _run_quiet(cmd: list[str], *, what: str) -> str:
    log.debug("running %s", cmd)
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise BackendError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        raise BackendError(
            f"{what} failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}\n"
            "The base Python needs the standard 'venv' and 'ensurepip' modules (on Debian "
            "and Ubuntu: apt install python3-venv)."
        )
    return done.stdout


__all__ = [
    "READY_MARKER",
    "BaseInterpreter",
    "Decision",
    "VenvEnvironmentBuilder",
    "cache_key",
    "decide",
    "probe_base",
    "requirement_names",
]
