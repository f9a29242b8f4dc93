"""Every `mlops ...` example in the README's code blocks runs as written, in a new project,
offline; those that need Azure, a long-running server or the reader's own files are named
below with the reason. A synopsis line (placeholders such as DIR, [--env E], a|b) is not an
example. A new example must be made runnable or named here: none is skipped silently."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

AZURE = "needs a signed-in Azure subscription"
NOT_RUN = {
    "mlops up": "starts a local server: tests/test_local_endpoint.py runs the loop",
    "mlops run --env dev": AZURE,
    "mlops runs show 20261126-1530": "a run id of the reader's own store",
    "mlops run jobs/train.yml --set inputs.alpha=0.1": "illustrative: a job file of the reader's",
    "mlops env build": "builds the curated environments with uv: a 1 GB download",
    "mlops provision --plan plan.json": AZURE + " (an offline plan cannot be applied)",
    "mlops provision --yes": AZURE,
    "mlops provision --env dev --prune": AZURE,
    "mlops run --env dev --timeout 120": AZURE,
    "mlops models list --env dev": AZURE,
    "mlops promote diagnosis:3 --to test": AZURE,
    "mlops deploy --env test --model diagnosis:3": AZURE,
    "mlops promote diagnosis:3 --to prod": AZURE,
    "mlops deploy --env prod --model diagnosis:3 --dry-run": AZURE + " (it reads the workspace)",
    "mlops provision": AZURE,
    "mlops retrain-reason --env dev": AZURE,
    "mlops smoke --env local": "needs a deployed local endpoint: tests/test_local_endpoint.py",
    "mlops models register model-1/model --name sklearn-regression"
    " --scoring-script model-1/onlinescoring/score.py --tag framework=sklearn": (
        "the azureml-examples sample's files: tests/models/test_register.py registers them"
    ),
    "mlops deploy --env local --model sklearn-regression:1": (
        "starts a local server: tests/models/test_register.py serves the sample"
    ),
    "mlops rbac check data_scientists Microsoft.MachineLearningServices/workspaces/jobs/read"
    " -e dev --team fraud --on-team churn": (
        "needs a platform with teams fraud and churn: tests/teams_infra checks it"
    ),
    "mlops smoke --request model-1/sample-request.json": (
        "needs the sample served: tests/models/test_register.py smoke-tests it"
    ),
}
#: examples whose documented outcome is not exit 0
EXIT_CODES = {
    # "may a data scientist create compute?": no, exit 3, as the README says
    "mlops rbac check data_scientists"
    " Microsoft.MachineLearningServices/workspaces/computes/write -e dev": 3,
    # a wildcard is not an operation Azure checks: bad input, exit 2, as the README says
    "mlops rbac check data_scientists"
    " 'Microsoft.MachineLearningServices/workspaces/computes/*' -e dev": 2,
    # a new project collects nothing (monitoring.collection is off): exit 2 saying how
    "mlops monitor --env local": 2,
}
_PLACEHOLDER = re.compile(r"[\[\]|]|\.\.\.|^[A-Z][A-Z0-9_:]*$")


def readme_examples() -> list[str]:
    """Each `mlops` command line in a fenced code block, without prompt and comment."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found: list[str] = []
    for language, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        body = re.sub(r"\s*\\\n\s*", " ", body)  # a command continued on the next line
        for line in body.splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("mlops "):
                continue
            if language == "text":  # command tables: the description follows two spaces
                line = re.split(r"\s{2,}", line)[0]
            found.append(re.split(r"\s+#", line)[0].strip())
    return found


def is_synopsis(command: str) -> bool:
    return any(_PLACEHOLDER.search(token) for token in shlex.split(command)[1:])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # `env prune` stays here
    monkeypatch.delenv("MLOPS_CACHE_DIR", raising=False)
    root = tmp_path / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def test_the_examples_not_run_are_in_the_readme_and_synopses_are_only_synopses():
    examples = readme_examples()
    assert len(examples) > 30
    commands = {c for e in examples for c in e.split(" && ")}
    assert set(NOT_RUN) - commands == set(), "named here but no longer in the README"
    assert set(EXIT_CODES) - commands == set(), "named here but no longer in the README"
    assert not any(is_synopsis(c) for c in NOT_RUN), "a synopsis needs no reason"
    assert is_synopsis("mlops init DIR [--name N]") and not is_synopsis("mlops plan --offline")


def test_the_readme_examples_run_as_written_offline(project):
    ran: list[str] = []
    try:
        for example in readme_examples():
            if example in NOT_RUN or is_synopsis(example):
                continue
            for command in example.split(" && "):
                if command in ran:  # once is enough: `mlops run` costs seconds
                    continue
                result = run_cli(*shlex.split(command)[1:])
                expected = EXIT_CODES.get(command, 0)
                assert result.exit_code == expected, f"{command}\n{result.stderr[-2000:]}"
                assert result.exception is None, command
                ran.append(command)
    finally:  # an example that deploys locally leaves a server running: stop it
        run_cli("deploy", "--env", "local", "--stop")
    assert "mlops run pipelines/train.yml --set inputs.regularization=0.5" in ran
    assert len(ran) >= 15
