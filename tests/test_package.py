"""`mlops package` copies the scoring code as Azure ML snapshots it: what `.amlignore` (else
`.gitignore`) excludes stays out of the context and out of `docker build`, and an output
folder inside the code it packages is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlops.pipeline.fingerprint import code_hash
from tests.conftest import CliResult, run_cli, trained_new_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project with version 1 registered (trained once for the whole module)."""
    return trained_new_project(tmp_path_factory.mktemp("package"))


@pytest.fixture
def project(trained: Path, monkeypatch: pytest.MonkeyPatch):
    """The trained project as the current folder; its src/ is restored after each test."""
    monkeypatch.chdir(trained)
    pristine = trained.parent / "src.pristine"
    if not pristine.exists():
        shutil.copytree(trained / "src", pristine, symlinks=True)
    yield trained
    shutil.rmtree(trained / "src")
    shutil.copytree(pristine, trained / "src", symlinks=True)


def package(*args: str) -> CliResult:
    return run_cli("package", "--model", "demo:1", *args, "-o", "json")


def test_package_leaves_out_what_the_code_folders_amlignore_excludes(project, tmp_path):
    (project / "src" / ".env").write_text("STORAGE_KEY=secret\n")
    (project / "src" / ".amlignore").write_text("# not for the image\n.env\n")

    result = package("--out", str(tmp_path / "ctx"))

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "code/.env" not in result.json()["files"]
    assert not (tmp_path / "ctx" / "code" / ".env").exists()
    assert "code/diagnosis/score.py" in result.json()["files"]
    dockerignore = (tmp_path / "ctx" / ".dockerignore").read_text().splitlines()
    assert "code/**/.env" in dockerignore and "code/**/__pycache__" in dockerignore


def test_package_uses_gitignore_when_there_is_no_amlignore(project, tmp_path):
    (project / "src" / "secrets").mkdir()
    (project / "src" / "secrets" / "token.txt").write_text("t0k3n\n")
    (project / "src" / "notes.tmp").write_text("scratch\n")
    (project / "src" / ".gitignore").write_text("secrets/\n/*.tmp\n!diagnosis/\n")

    result = package("--out", str(tmp_path / "ctx"))

    assert result.exit_code == 0, result.stdout + result.stderr
    files = result.json()["files"]
    assert not any(f.startswith("code/secrets") or f.endswith(".tmp") for f in files)
    dockerignore = (tmp_path / "ctx" / ".dockerignore").read_text().splitlines()
    assert {"code/**/secrets", "code/*.tmp", "!code/**/diagnosis"} <= set(dockerignore)


def test_package_copies_exactly_the_files_the_runners_code_snapshot_keeps(project, tmp_path):
    src = project / "src"
    (src / ".amlignore").write_text("*.csv\nscratch/\n")
    (src / "diagnosis" / "big.csv").write_text("a,b\n")
    (src / "scratch").mkdir()
    (src / "scratch" / "x.py").write_text("print(1)\n")
    (src / "__pycache__").mkdir(exist_ok=True)
    (src / "__pycache__" / "junk.pyc").write_bytes(b"\0")

    assert package("--out", str(tmp_path / "ctx")).exit_code == 0

    assert code_hash(tmp_path / "ctx" / "code") == code_hash(src)
    copied = {
        p.relative_to(tmp_path / "ctx" / "code").as_posix()
        for p in (tmp_path / "ctx" / "code").rglob("*")
        if p.is_file()
    }
    assert copied.isdisjoint({"diagnosis/big.csv", "scratch/x.py", "__pycache__/junk.pyc"})


def test_package_refuses_an_output_folder_inside_the_code_it_packages(project):
    before = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))

    result = package("--out", "src/image")

    assert result.exit_code == 2
    report = result.json()
    assert "src/image" in report["message"] and "inside src," in report["message"]
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*")) == before


def test_package_into_a_folder_the_code_ignores_does_not_copy_itself(project):
    (project / "src" / ".amlignore").write_text("build/\n")

    result = package("--out", "src/build/ctx")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert not any(f.startswith("code/build") for f in result.json()["files"])
    assert not list((project / "src" / "build").glob(".ctx.*"))  # no leftover work folder


def test_package_refuses_ignore_rules_that_exclude_the_scoring_script(project, tmp_path):
    (project / "src" / ".amlignore").write_text("score.py\n")

    result = package("--out", str(tmp_path / "ctx"))

    assert result.exit_code == 2
    assert "diagnosis/score.py is excluded by src/.amlignore" in result.json()["message"]
    assert not (tmp_path / "ctx").exists()


def test_package_refuses_a_folder_that_is_not_empty_and_leaves_it_alone(project, tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "keep.txt").write_text("mine\n")

    result = package("--out", str(tmp_path / "ctx"))

    assert result.exit_code == 2
    assert sorted(os.listdir(tmp_path / "ctx")) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ctx"]  # no half-built context beside it


def test_odd_bytes_in_file_names_and_ignore_files_are_packaged_not_crashed_on(project, tmp_path):
    src = os.fsencode(project / "src")
    with open(os.path.join(src, b"caf\xe9.txt"), "wb") as stream:  # a Latin-1 file name
        stream.write(b"kept\n")
    with open(os.path.join(src, b"secret-\xe9.txt"), "wb") as stream:
        stream.write(b"excluded\n")
    (project / "src" / ".gitignore").write_bytes(b"secret-\xe9.txt\n")

    result = package("--out", str(tmp_path / "ctx"))

    assert result.exit_code == 0, result.stdout + result.stderr
    code = os.fsencode(tmp_path / "ctx" / "code")
    assert sorted(n for n in os.listdir(code) if n.endswith(b".txt")) == [b"caf\xe9.txt"]
    assert code_hash(project / "src") == code_hash(tmp_path / "ctx" / "code")


def test_a_scoring_script_name_cannot_inject_dockerfile_instructions(project, tmp_path):
    src = project / "src" / "diagnosis"
    odd = 'score $HOME "v2".py'
    shutil.copy(src / "score.py", src / odd)
    config = project / "mlops.yaml"
    original = config.read_text()
    config.write_text(
        original.replace(
            "scoring_script: src/diagnosis/score.py", f"scoring_script: 'src/diagnosis/{odd}'"
        )
    )
    try:
        result = package("--out", str(tmp_path / "ctx"))
    finally:
        config.write_text(original)

    assert result.exit_code == 0, result.stdout + result.stderr
    dockerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert 'AZUREML_ENTRY_SCRIPT="/var/azureml-app/code/diagnosis/score \\$HOME \\"v2\\".py"' in (
        dockerfile
    )
    assert 'CMD ["azmlinfsrv", "--entry_script", "/var/azureml-app/code/diagnosis/score $HOME' in (
        dockerfile
    )
