"""Resolving a component's `environment:` into pip requirements: pure, no build."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops.environments import EnvSpec, resolve
from mlops.environments.conda import translate
from mlops.environments.curated import CURATED
from mlops.errors import PipelineError


def _conda(tmp_path: Path, text: str, name: str = "conda.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _inline(tmp_path: Path, text: str) -> EnvSpec:
    _conda(tmp_path, text)
    return resolve(
        {"image": "mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04", "conda_file": "conda.yml"},
        base=tmp_path,
        file=tmp_path / "component.yml",
    )


def test_conda_file_gives_python_version_conda_packages_and_pip_section(tmp_path):
    spec = _inline(
        tmp_path,
        """
        name: train
        channels: [conda-forge]
        dependencies:
          - python=3.10
          - pip=24.0
          - numpy=1.26
          - conda-forge::pandas==2.1.4
          - scipy 1.11.4 py310h64a7726_0
          - pip:
              - mlflow-skinny==2.16.0
              - scikit-learn >= 1.4
        """,
    )
    assert spec.kind == "conda"
    assert spec.python == "3.10"
    assert spec.requirements == (
        "mlflow-skinny==2.16.0",
        "numpy==1.26.*",
        "pandas==2.1.4",
        "scikit-learn>=1.4",
        "scipy==1.11.4",
    )


@pytest.mark.parametrize(
    ("conda", "pypi"),
    [
        ("pytorch=2.3", "torch==2.3.*"),
        ("py-xgboost>=2", "xgboost>=2"),
        ("matplotlib-base", "matplotlib"),
        ("scikit-learn~=1.5.0", "scikit-learn~=1.5.0"),
        ("msgpack-python=1.0.7", "msgpack==1.0.7"),
        ("numpy=1.*", "numpy==1.*"),
    ],
)
def test_conda_names_and_versions_become_pypi_ones(conda, pypi):
    name, specifier = translate(conda)
    assert name + (specifier or "") == pypi


def test_inline_conda_file_mapping_is_read_like_a_file(tmp_path):
    spec = resolve(
        {"image": "x", "conda_file": {"dependencies": ["python=3.11", {"pip": ["six==1.16.0"]}]}},
        base=tmp_path,
    )
    assert (spec.kind, spec.python, spec.requirements) == ("conda", "3.11", ("six==1.16.0",))


def test_package_without_pypi_equivalent_is_refused_naming_file_and_package(tmp_path):
    with pytest.raises(PipelineError) as refused:
        _inline(tmp_path, "dependencies: [python=3.10, cudatoolkit=11.8, numpy]\n")
    assert "conda.yml" in refused.value.message
    assert "cudatoolkit" in refused.value.message
    assert "pip:" in (refused.value.hint or "")


def test_native_libraries_that_wheels_bundle_are_left_out_with_a_notice(tmp_path):
    spec = _inline(tmp_path, "dependencies: [python=3.10, mkl, libgcc-ng, numpy]\n")
    assert spec.requirements == ("numpy",)
    assert "mkl" in (spec.notice or "")


def test_pip_option_naming_another_file_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="names another file"):
        _inline(tmp_path, "dependencies: [{pip: [-r requirements.txt]}]\n")


def test_missing_conda_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(PipelineError, match=r"conda\.yml"):
        resolve({"image": "x", "conda_file": "conda.yml"}, base=tmp_path)


def test_hostile_conda_file_name_is_refused_not_crashed(tmp_path):
    with pytest.raises(PipelineError):
        resolve({"image": "x", "conda_file": "a\0b.yml"}, base=tmp_path)


@pytest.mark.parametrize(
    "reference",
    [
        "azureml:AzureML-sklearn-1.5@latest",
        "azureml:azureml-sklearn-1.5@latest",
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
    ],
)
def test_curated_name_gives_its_published_pins(reference):
    spec = resolve(reference, base=Path("."))
    assert spec.kind == "curated"
    assert spec.python == "3.10"
    assert {"pandas~=1.5.3", "scikit-learn~=1.5.0", "numpy~=1.22.0"} <= set(spec.requirements)
    assert spec.notice is None


def test_unknown_version_of_curated_env_uses_newest_with_notice():
    latest = resolve("azureml:AzureML-sklearn-1.5@latest", base=Path("."))
    pinned = resolve("azureml:AzureML-sklearn-1.5:7", base=Path("."))
    assert pinned.digest == latest.digest
    assert "version 7" in (pinned.notice or "")


def test_every_vendored_curated_env_names_its_source_and_python():
    for curated in CURATED.values():
        assert curated.source.startswith("https://github.com/Azure/azureml-assets/")
        spec = resolve(f"azureml:{curated.name}@latest", base=Path("."))
        assert spec.python is not None and spec.requirements


def test_registered_env_that_is_not_curated_is_refused_naming_component(tmp_path):
    component = tmp_path / "train.yml"
    with pytest.raises(PipelineError) as refused:
        resolve("azureml:my-env:3", base=tmp_path, file=component)
    assert "train.yml" in refused.value.message
    assert "conda_file" in (refused.value.hint or "")
    assert "--env-mode current" in (refused.value.hint or "")


def test_current_mode_resolves_anything_to_the_current_environment(tmp_path):
    spec = resolve("azureml:my-env:3", base=tmp_path, mode="current")
    assert (spec.kind, spec.isolated) == ("current", False)


def test_image_only_and_build_context_run_in_current_environment_with_notice(tmp_path):
    image = resolve({"image": "python:3.11"}, base=tmp_path)
    build = resolve({"build": {"path": "docker"}}, base=tmp_path)
    for spec in (image, build):
        assert spec.kind == "image" and not spec.isolated
        assert "current environment" in (spec.notice or "")


def test_digest_is_stable_and_ignores_order_spaces_and_provenance(tmp_path):
    one = resolve(
        {"image": "a", "conda_file": {"dependencies": ["python=3.10", {"pip": ["b", "a >= 1"]}]}},
        base=tmp_path,
    )
    two = resolve(
        {"image": "z", "conda_file": {"dependencies": ["python=3.10.13", {"pip": ["a>=1", "b"]}]}},
        base=tmp_path,
    )
    assert one.digest == two.digest
    assert len(one.digest) == 64


def test_digest_changes_with_python_version_and_any_pin(tmp_path):
    def digest(python: str, pin: str) -> str:
        deps = [f"python={python}", {"pip": [pin]}]
        return resolve({"image": "a", "conda_file": {"dependencies": deps}}, base=tmp_path).digest

    base = digest("3.10", "six==1.16.0")
    assert digest("3.11", "six==1.16.0") != base
    assert digest("3.10", "six==1.15.0") != base
