"""Azure ML curated environments as data: each one's published conda file, with its source.

Microsoft builds every curated environment from a conda file in the Azure/azureml-assets
repository (`assets/training/general/environments/<asset>/context/`); Azure ML's registry
numbers the builds (`AzureML-sklearn-1.5:7`) as they are published, and the repository does
not record which number each commit became. So each environment here is one snapshot of its
conda file, what `@latest` gives locally; an explicit version number gets the same snapshot
with a notice.

The `{{latest-pypi-version}}` placeholders of the source (filled when Microsoft builds the
image) are left unpinned: uv installs the newest release, as a fresh build on Azure would.
"""

from __future__ import annotations

from dataclasses import dataclass

MCR = "mcr.microsoft.com"
_ASSETS = "https://github.com/Azure/azureml-assets/blob/main/assets/training/general/environments"

#: azureml-core (in every image below) imports `pkg_resources`, which setuptools removed in
#: 81; the images' conda has an older setuptools, so the local copy pins one that has it.
_SETUPTOOLS = "setuptools<81"


@dataclass(frozen=True)
class Curated:
    """One curated environment: its conda `dependencies:` (conda specs) and `pip:` lines."""

    asset: str  # the registry asset name; the workspace name is `AzureML-<asset>`
    snapshot: str  # which state of the source this is: the azureml-assets commit and its date
    source: str
    conda: tuple[str, ...]
    pip: tuple[str, ...]
    note: str = ""

    @property
    def name(self) -> str:
        return f"AzureML-{self.asset}"

    @property
    def image(self) -> str:
        """The image Microsoft publishes the environment as: each asset's `environment.yaml`
        names it `azureml/curated/<asset>` with `publish: location: mcr, visibility: public`
        (e.g. https://github.com/Azure/azureml-assets/blob/main/assets/training/general/
        environments/sklearn-1.5/environment.yaml); `latest` is what the snapshot tracks."""
        return f"{MCR}/azureml/curated/{self.asset}:latest"


CURATED: dict[str, Curated] = {
    c.asset: c
    for c in (
        Curated(
            # the reference project's environment, and 93 of the references in
            # Azure/azureml-examples' cli/ folder
            asset="sklearn-1.5",
            snapshot="azureml-assets 4b41f8c (2026-07-23)",
            source=f"{_ASSETS}/sklearn-1.5/context/conda_dependencies.yaml",
            conda=(
                "python=3.10",
                "pip=26.1.2",
                "pandas~=1.5.3",
                "scipy~=1.10.0",
                "numpy~=1.22.0",
            ),
            pip=(
                "scikit-learn-intelex",
                "azureml-core",
                "azureml-defaults",
                "azureml-inference-server-http",
                "azureml-mlflow",
                "azureml-telemetry",
                "scikit-learn~=1.5.0",
                "joblib~=1.2.0",
                # azureml-automl-common-tools packages
                "py-spy==0.3.12",
                "debugpy~=1.6.3",
                "ipykernel~=6.0",
                "tensorboard",
                "psutil~=5.8.0",  # no wheel for 3.10: built from source (needs gcc, ~5 s)
                "matplotlib~=3.5.0",
                "tqdm~=4.66.3",
                "py-cpuinfo==5.0.0",
                "torch-tb-profiler~=0.4.0",
                # security floors
                "starlette>=1.0.1",
                "cryptography==48.0.1",
                "pyarrow>=23.0.1",
                _SETUPTOOLS,
            ),
            note="the Dockerfile's later `pip install --upgrade` security floors are left out;"
            " installed here: 168 packages, 1.1 GB, python 3.10",
        ),
        Curated(
            asset="lightgbm-3.3",
            snapshot="azureml-assets 09170d5",
            source=f"{_ASSETS}/lightgbm-3.3/context/conda_dependencies.yaml",
            conda=(
                "python=3.10",
                "pip=26.1.1",
                "pandas~=1.5.3",
                "scipy~=1.10.0",
                "numpy~=1.22.0",
            ),
            pip=(
                "azureml-core",
                "azureml-defaults",
                "azureml-mlflow",
                "azureml-telemetry",
                "scikit-learn~=1.5.1",
                "xgboost~=1.7.6",
                "lightgbm>=4.6.0",  # sic: the asset keeps its 3.3 name, installs LightGBM 4
                "distributed~=2021.10.0",
                "adlfs~=0.7.0",
                # azureml-automl-common-tools packages
                "py-spy==0.3.12",
                "debugpy~=1.6.3",
                "ipykernel~=6.0",
                "tensorboard",
                "psutil~=5.8.0",
                "matplotlib~=3.5.0",
                "tqdm~=4.66.3",
                "py-cpuinfo==5.0.0",
                "torch-tb-profiler~=0.4.0",
                "starlette>=1.0.1",
                _SETUPTOOLS,
            ),
        ),
        Curated(
            asset="sklearn-1.0",
            snapshot="azureml-assets 018d7fa",
            source=f"{_ASSETS}/sklearn-1.0/context/conda_dependencies.yaml",
            conda=(
                "python=3.9",
                "pip=21.3.1",
                "pandas~=1.3.0",
                "scipy~=1.10.0",
                "numpy~=1.22.0",
            ),
            pip=(
                "wheel~=0.38.1",
                "azureml-core",
                "azureml-defaults",
                "azureml-mlflow",
                "azureml-telemetry",
                "scikit-learn~=1.0.0",
                "joblib~=1.2.0",
                # vulnerabilities
                "cryptography>=42.0.4",
                "certifi>=2023.07.22",
                "requests>=2.32.3",
                "idna>=3.7",
                # azureml-automl-common-tools packages
                "py-spy==0.3.12",
                "debugpy~=1.6.3",
                "ipykernel~=6.0",
                "tensorboard",
                "psutil~=5.8.0",
                "matplotlib~=3.5.0",
                "tqdm~=4.66.3",
                "py-cpuinfo==5.0.0",
                "torch-tb-profiler~=0.4.0",
                _SETUPTOOLS,
            ),
        ),
    )
}


def lookup(name: str) -> Curated | None:
    """The curated environment a workspace name (`AzureML-sklearn-1.5`) or a registry asset
    name (`sklearn-1.5`) refers to, case-insensitively; None when it is not vendored here."""
    key = name.lower()
    if key.startswith("azureml-"):
        key = key[len("azureml-") :]
    return next((c for asset, c in CURATED.items() if asset.lower() == key), None)
