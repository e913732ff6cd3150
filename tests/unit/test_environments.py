"""The environment policy: what is substituted, and that each substitution leaves a note."""

from __future__ import annotations

from lakeworks.core.assets import EnvironmentSpec
from lakeworks.core.environments import curated_plan, plan_environment, plan_from_conda

HOST = (3, 11, 7)

TUTORIAL_CONDA = {
    "name": "model-env",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.8", "numpy=1.21.2", "pip=21.2.4", "scikit-learn=0.24.2", "scipy=1.7.1",
        "pandas>=1.1,<1.2",
        {"pip": ["inference-schema[numpy-support]==1.3.0", "xlrd==2.0.1", "mlflow==2.4.1",
                 "azureml-mlflow==1.51.0"]},
    ],
}


def test_tutorial_conda_file_on_a_newer_python() -> None:
    plan = plan_from_conda(TUTORIAL_CONDA, HOST)
    assert plan.requirements == (
        "inference-schema[numpy-support]>=1.3.0", "mlflow>=2.4.1", "numpy>=1.21.2",
        "pandas>=1.1", "scikit-learn>=0.24.2", "scipy>=1.7.1", "xlrd>=2.0.1",
    )
    notes = "\n".join(plan.notes)
    assert "python=3.8 requested; running on Python 3.11.7" in notes
    assert "azureml-mlflow is Azure-only and is dropped" in notes
    assert "pandas>=1.1,<1.2 relaxed to pandas>=1.1" in notes
    assert "'pip=21.2.4' ignored" in notes


def test_matching_python_keeps_exact_pins() -> None:
    plan = plan_from_conda({"dependencies": ["python=3.11", "numpy=1.26.4", "pandas=2.1"]}, HOST)
    assert plan.requirements == ("numpy==1.26.4", "pandas==2.1.*")


def test_conda_only_and_renamed_packages() -> None:
    plan = plan_from_conda({"dependencies": ["mkl", "conda-forge::pytorch=2.1.0", "py-xgboost"]},
                           HOST)
    assert plan.requirements == ("torch==2.1.0", "xgboost")
    assert any("conda-only package 'mkl'" in n for n in plan.notes)
    assert any("installs from PyPI as 'torch'" in n for n in plan.notes)


def test_pip_options_are_skipped_with_a_note() -> None:
    plan = plan_from_conda({"dependencies": [{"pip": ["--extra-index-url x", "six"]}]}, HOST)
    assert plan.requirements == ("six",)
    assert any("pip option" in n for n in plan.notes)


def test_curated_environments_map_locally() -> None:
    for ref in ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
                "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
                "AzureML-sklearn-1.5:3"):
        plan = curated_plan(ref)
        assert plan is not None and "scikit-learn" in plan.requirements, ref
    assert curated_plan("my-env:1") is None
    unknown = curated_plan("azureml://registries/azureml/environments/quantum-9/labels/latest")
    assert unknown is not None and unknown.requirements == ()
    assert "not known" in unknown.notes[0]


def test_image_is_noted_and_requirements_merge() -> None:
    env = EnvironmentSpec(name="e", image="mcr.microsoft.com/azureml/x:latest",
                          conda_file={"dependencies": [{"pip": ["six==1.16.0"]}]},
                          requirements=("pyyaml>=6",))
    plan = plan_environment(env, HOST)
    assert plan.requirements == ("pyyaml>=6", "six==1.16.0")
    assert "is not run" in plan.notes[0]
