"""Per-step scratch layers: a throwaway venv stacked on a cached environment.

A step may ``pip install`` what it likes (the tutorial's train step installs an older MLflow);
that must change neither the user's Python nor the cached environment other steps share. Each
step therefore runs in a fresh ``venv --without-pip`` whose ``.pth`` adds the cached
environment's site-packages (and through it the base's) after its own, with ``pip`` scripts
that install into the layer. Creating one takes tens of milliseconds; it is deleted with the
step's scratch folder.
"""

from __future__ import annotations

import stat
import subprocess
import sysconfig
from pathlib import Path

from lakeworks.errors import BackendError
from lakeworks.ports.environments import BuiltEnvironment

LAYER_PTH = "~lakeworks-layer.pth"  # sorts after the layer's own .pth files

_PIP_SCRIPT = """#!{python}
# pip of a Lakeworks step layer: installs into this layer only.
import sys
from pip._internal.cli.main import main
sys.exit(main())
"""


def _site_packages(root: Path) -> Path:
    """The purelib folder of a venv rooted at ``root`` (same Python as this process)."""
    path = sysconfig.get_path("purelib", scheme="venv", vars={"base": str(root), "platbase": str(root)})
    return Path(path)


def scratch_layer(env: BuiltEnvironment, dest: Path) -> BuiltEnvironment:
    """Create a scratch layer at ``dest`` over ``env`` and return it as an environment.

    Raises:
        BackendError: the venv could not be created.
    """
    done = subprocess.run(
        [str(env.python), "-m", "venv", "--without-pip", str(dest)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise BackendError(
            f"could not create the step's scratch environment {dest}: {done.stderr.strip()}"
        )
    below = _site_packages(env.root)
    here = _site_packages(dest)
    here.mkdir(parents=True, exist_ok=True)
    (here / LAYER_PTH).write_text(f"import site; site.addsitedir({str(below)!r})\n")
    python = dest / "bin" / "python"
    for name in ("pip", "pip3"):
        script = dest / "bin" / name
        script.write_text(_PIP_SCRIPT.format(python=python))
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return BuiltEnvironment(
        key=env.key, root=dest, bin_dir=dest / "bin", python=python, reused=env.reused
    )


__all__ = ["LAYER_PTH", "scratch_layer"]
