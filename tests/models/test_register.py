"""`mlops models register`: a model trained elsewhere is registered (the local twin of
`az ml model create`), never gate-promoted, served by `mlops deploy --env local` with its own
scoring script and answered by `mlops smoke`; bad input exits 2 naming the field."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_cli

SAMPLE = Path(__file__).parent / "fixtures" / "model-1"


def train_tiny_regression(folder: Path):
    """A scikit-learn regression on 10 features, pickled as azureml-examples ships it."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 10))
    model = LinearRegression().fit(features, features @ np.arange(1, 11) + 3)
    folder.mkdir(parents=True)
    joblib.dump(model, folder / "sklearn_regression_model.pkl")
    return model


@pytest.fixture
def sample(tmp_path: Path):
    """The sample beside (outside) the project: model-1/{model/, onlinescoring/, request}."""
    root = tmp_path / "model-1"
    shutil.copytree(SAMPLE, root)
    return root, train_tiny_regression(root / "model")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def register(*args: str):
    return run_cli("models", "register", *args, "-o", "json")


def test_an_azureml_examples_online_sample_is_registered_served_and_smoke_tested(sample, project):
    folder, model = sample
    registered = register(
        str(folder / "model"),
        "--name",
        "sklearn-regression",
        "--scoring-script",
        str(folder / "onlinescoring" / "score.py"),
        "--tag",
        "framework=sklearn",
    )
    assert registered.exit_code == 0, registered.stdout
    version = registered.json()
    assert (version["name"], version["version"], version["aliases"]) == (
        "sklearn-regression",
        "1",
        [],
    )
    assert version["tags"]["gate_decision"] == "not promoted"  # never champion by itself
    assert version["tags"]["model_type"] == "custom_model"
    assert version["tags"]["framework"] == "sklearn"

    # the project's sample request is the sample's own, outside the project's folder
    config = project / "mlops.yaml"
    text = config.read_text()
    assert "sample_request: src/diagnosis/sample_request.json" in text
    config.write_text(
        text.replace("src/diagnosis/sample_request.json", "../model-1/sample-request.json")
    )
    deployed = run_cli("deploy", "--env", "local", "--model", "sklearn-regression:1", "-o", "json")
    try:
        assert deployed.exit_code == 0, deployed.stdout
        smoke = run_cli("smoke", "-o", "json")
        assert smoke.exit_code == 0, smoke.stdout
        (check,) = smoke.json()["checks"]
        assert check["ok"] and check["status"] == 200
        assert check["output_schema"] is False  # score.py declares none: a list answer passes
        assert check["sample"].endswith("model-1/sample-request.json")

        body = (folder / "sample-request.json").read_bytes()
        request = urllib.request.Request(
            deployed.json()["url"], data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            predictions = json.loads(answer.read())
        assert predictions == pytest.approx(model.predict(json.loads(body)["data"]).tolist())

        by_option = run_cli("smoke", "--request", str(folder / "sample-request.json"))
        assert by_option.exit_code == 0, by_option.stderr
        assert "no output schema published" in by_option.stderr
    finally:
        run_cli("deploy", "--env", "local", "--stop")


def test_an_mlflow_model_folder_needs_no_scoring_script(project, tmp_path):
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    mlflow.sklearn.save_model(model, tmp_path / "exported")
    first = register(str(tmp_path / "exported"), "--name", "demo")
    second = register(str(tmp_path / "exported"), "--name", "demo", "--description", "again")
    assert first.exit_code == second.exit_code == 0
    assert first.json()["tags"]["model_type"] == "mlflow_model"
    assert second.json()["version"] == "2"
    assert second.json()["description"] == "again"
    listed = run_cli("models", "list", "demo", "-o", "json").json()
    assert [(v["version"], v["aliases"]) for v in listed] == [("2", []), ("1", [])]
    shown = run_cli("models", "show", "demo:1")
    assert "not promoted" in shown.stdout


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (["absent", "--name", "m"], "PATH", "does not exist"),
        (["model/sklearn_regression_model.pkl", "--name", "m"], "PATH", "is a file"),
        (["model", "--name", "m"], "PATH", "is not an MLflow model"),
        (["model", "--name", "-bad name", "-s", "onlinescoring/score.py"], "--name", "cannot be"),
        (["model", "--name", "m", "-s", "absent.py"], "--scoring-script", "does not exist"),
        (["model", "--name", "m", "-s", "sample-request.json"], "--scoring-script", "defines no"),
        (["model", "--name", "m", "-s", "README.md"], "--scoring-script", "not valid"),
        (["model", "--name", "m", "-s", "onlinescoring/score.py", "--tag", "oops"], "--tag", "KEY"),
        (
            ["model", "--name", "m", "-s", "onlinescoring/score.py", "-t", "gate_decision=x"],
            "--tag",
            "recorded by mlops",
        ),
    ],
    ids=[
        "missing folder",
        "a file",
        "not a model",
        "bad name",
        "missing script",
        "script without init and run",
        "script not python",
        "tag without =",
        "gate tag",
    ],
)
def test_bad_input_exits_2_naming_the_field_and_registers_nothing(
    sample, project, monkeypatch, args, field, message
):
    folder, _ = sample
    monkeypatch.chdir(folder)
    result = run_cli("-c", str(project / "mlops.yaml"), "models", "register", *args)
    assert result.exit_code == 2, result.stderr
    assert f"error: {field}: " in result.stderr
    assert message in result.stderr
    assert not (project / ".mlops" / "mlflow.db").exists()


def test_a_scoring_script_without_run_is_refused(sample, project, tmp_path):
    folder, _ = sample
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n")
    result = register(str(folder / "model"), "--name", "m", "--scoring-script", str(script))
    assert result.exit_code == 2
    assert result.json()["message"].startswith("--scoring-script: ")
    assert "no run()" in result.json()["message"]


def test_packaging_a_version_with_its_own_scoring_script_is_refused_not_mispacked(sample, project):
    folder, _ = sample
    script = str(folder / "onlinescoring" / "score.py")
    assert register(str(folder / "model"), "--name", "m", "-s", script).exit_code == 0
    result = run_cli("package", "--model", "m:1", "-o", "json")
    assert result.exit_code == 2
    assert "its own scoring script" in result.json()["message"]
