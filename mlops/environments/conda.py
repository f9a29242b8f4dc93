"""Conda dependency lists as PyPI requirements: name map, dropped natives, refused tools."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: conda package name → its PyPI distribution, where the two differ. Conda-forge and the
#: `defaults` channel name most Python packages as PyPI does; these are the common exceptions
#: (conda-forge feedstocks' `name:` vs. their `source:` on PyPI). A name not listed here, nor
#: below, is taken to be its own PyPI name, and uv says so if PyPI has no such project.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "matplotlib-base": "matplotlib",
    "tensorflow-base": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "libopencv": "opencv-python",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "ruamel_yaml": "ruamel.yaml",
    "pyqt": "PyQt5",
    "lightgbm-cpu": "lightgbm",
    "py-lightgbm": "lightgbm",
    "pyarrow-core": "pyarrow",
    "arrow-cpp": "pyarrow",
    "protobuf": "protobuf",
    "libprotobuf": "protobuf",
    "scikit-learn": "scikit-learn",
    "sklearn": "scikit-learn",
    "pillow": "pillow",
    "pyyaml": "pyyaml",
    "tbb": "tbb",
    "numba": "numba",
    "jupyter": "jupyter",
    "ipython": "ipython",
    "typing_extensions": "typing-extensions",
    "importlib_metadata": "importlib-metadata",
}

#: conda packages that only serve conda's own toolchain or supply native libraries that PyPI
#: wheels bundle (numpy and scipy wheels carry OpenBLAS; manylinux wheels link the system C
#: runtime). They are left out, with a notice: installing `mkl` from PyPI (Intel does publish
#: it) would add ~200 MB that no PyPI wheel loads, so leaving it out is the faithful choice.
CONDA_ONLY_DROPPED: frozenset[str] = frozenset(
    {
        "pip",  # the environment's own installer: uv installs instead
        "_libgcc_mutex",
        "_openmp_mutex",
        "libgcc-ng",
        "libgcc",
        "libstdcxx-ng",
        "libgomp",
        "ld_impl_linux-64",
        "ca-certificates",
        "openssl",
        "blas",
        "libblas",
        "libcblas",
        "liblapack",
        "openblas",
        "libopenblas",
        "nomkl",
        "mkl",
        "mkl-service",
        "mkl_fft",
        "mkl_random",
        "intel-openmp",
        "llvm-openmp",
        "tzdata",
        "zlib",
        "xz",
        "bzip2",
        "libffi",
        "ncurses",
        "readline",
        "sqlite",
        "tk",
    }
)

#: conda packages with no PyPI equivalent that a step would actually use: system tools, GPU
#: toolkits, R. Refused, so a step never fails half-way for lack of them; the hint says to
#: move a PyPI replacement under `pip:` or to run with `--env-mode current`.
CONDA_REFUSED: frozenset[str] = frozenset(
    {
        "cudatoolkit",
        "cudatoolkit-dev",
        "cudnn",
        "nccl",
        "cuda",
        "cupti",
        "magma",
        "openmpi",
        "mpich",
        "impi_rt",
        "openjdk",
        "gcc",
        "gxx",
        "gcc_linux-64",
        "gxx_linux-64",
        "make",
        "git",
        "nodejs",
        "graphviz",
        "ffmpeg",
        "r-base",
        "r",
        "libjpeg-turbo",
        "libpng",
        "gdal",
        "proj",
        "geos",
    }
)
#: name prefixes refused for the same reason (CUDA components, R packages).
REFUSED_PREFIXES: tuple[str, ...] = ("cuda-", "r-", "libcu", "libnv")

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


@dataclass
class Translated:
    """A conda `dependencies:` list as pip requirement lines, the Python version it pins, and
    what was left out (for a notice) or cannot be had from PyPI (for an error)."""

    python: str | None = None
    requirements: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def translate(dependency: str) -> tuple[str, str | None]:
    """One conda match spec as (pypi_name, pip_specifier or None); the name is conda's own
    when it is dropped or refused (the caller checks)."""
    text = dependency.strip()
    if "::" in text:  # channel::name
        text = text.split("::", 1)[1]
    text = text.split("[", 1)[0].strip()  # conda's [build_number=...] selectors
    match = _SPEC.match(text)
    if match is None:
        raise ValueError(dependency)
    name = match["name"].lower()
    rest = match["rest"].strip()
    return CONDA_TO_PYPI.get(name, name), _specifier(rest) if rest else None


def translate_all(dependencies: list[str]) -> Translated:
    """Every entry of a conda `dependencies:` list except the `pip:` mapping."""
    out = Translated()
    for dependency in dependencies:
        conda_name = _SPEC.match(dependency.split("::")[-1].strip())
        raw = conda_name["name"].lower() if conda_name else dependency
        if raw == "python":
            out.python = python_version(translate(dependency)[1])
            continue
        if raw in CONDA_ONLY_DROPPED:
            if raw != "pip":
                out.dropped.append(raw)
            continue
        if raw in CONDA_REFUSED or raw.startswith(REFUSED_PREFIXES):
            out.refused.append(raw)
            continue
        name, specifier = translate(dependency)
        out.requirements.append(name + (specifier or ""))
    return out


def python_version(specifier: str | None) -> str | None:
    """`==3.10.*` or `==3.10.13` → "3.10"; a range or nothing → None (any Python will do)."""
    if not specifier:
        return None
    match = re.fullmatch(r"==\s*(\d+)\.(\d+)(?:\.[\d*]+)?(?:\.\*)?", specifier.strip())
    return f"{match[1]}.{match[2]}" if match else None


def _specifier(rest: str) -> str:
    """A conda version spec as pip's: `=1.26` → `==1.26.*`, `1.26.4=py310_0` → `==1.26.4`,
    `>=1.2,<2` and `~=1.5.3` as they are."""
    rest = rest.strip()
    if rest.startswith(("==", ">=", "<=", "!=", "~=", ">", "<")):
        return rest.replace(" ", "")
    if rest.startswith("="):
        rest = rest[1:]
    version = rest.replace(" ", "=").split("=", 1)[0]  # drop a build string
    if version.endswith("*") or re.fullmatch(r"\d+(\.\d+)?", version):
        # conda's `=1.26` means any 1.26.x; pip says `==1.26.*`
        return "==" + (version if version.endswith("*") else version + ".*")
    return "==" + version
