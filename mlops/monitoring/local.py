"""`mlops monitor --env local`: the monitor's signals over what the local endpoint collected.

The production data is what the data collector agent of the local endpoint wrote (see
`mlops.backends.local._front_end`) for the served version, in Azure ML's layout:
<state>/modelDataCollector/<endpoint>/<model>-<version>/<collection>/yyyy/MM/dd/HH/*.jsonl.
The baseline is the data that version was trained on, found from its lineage tags
(dataset_name, dataset_version) in mlops.yaml's data section, and checked to be the same
bytes (the reference model's prep step versions data by content hash).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config import LoadedConfig, display_path
from mlops.errors import BadInputError
from mlops.monitoring.signals import Measure

if TYPE_CHECKING:
    import pandas as pd

INPUTS, OUTPUTS = "model_inputs", "model_outputs"
COLLECT_HINT = (
    "set monitoring.collection: true in mlops.yaml, deploy again with"
    " `mlops deploy --env local`, then send it requests (`mlops smoke`, or your client)"
)


@dataclass
class Monitored:
    """The outcome of one local monitor run, and where its report went."""

    model: str
    endpoint: str
    deployment: str
    baseline: dict[str, Any]
    production: dict[str, Any]
    measures: list[Measure]
    reports: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return any(m.drifted for m in self.measures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "model": self.model,
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "baseline": self.baseline,
            "production": self.production,
            "signals": [m.to_dict() for m in self.measures],
            "notes": self.notes,
            "reports": self.reports,
        }


def monitor_local(
    loaded: LoadedConfig, reference: str | None = None, report_dir: Path | None = None
) -> Monitored:
    """Compute every enabled signal, write the HTML and JSON reports, return the outcome.

    BadInputError (nothing written) when there is no collected data, no baseline, or the
    data does not have the columns mlops.yaml names."""
    from mlops.backends.local.serving import collection_folder, deployment_name
    from mlops.monitoring import report, signals
    from mlops.services.deploy import endpoint_name
    from mlops.services.run import state_dir

    state = state_dir(loaded)
    endpoint = endpoint_name(loaded)
    version = _served_version(loaded, state, endpoint, reference)
    folder = collection_folder(state, endpoint, version.name, version.version)
    inputs, files = read_collected(folder / INPUTS)
    if inputs is None:
        raise BadInputError(
            f"no data collected for {version.name}:{version.version} on local endpoint"
            f" {endpoint} (looked in {display_path(folder / INPUTS)})",
            hint=COLLECT_HINT,
        )
    outputs, _ = read_collected(folder / OUTPUTS)
    baseline, about = read_baseline(loaded, version)
    monitoring = loaded.config.monitoring
    try:
        measures = signals.compute(monitoring, baseline, inputs, outputs)
    except ValueError as exc:
        raise BadInputError(str(exc), hint="fix monitoring: in mlops.yaml") from None
    result = Monitored(
        model=f"{version.name}:{version.version}",
        endpoint=endpoint,
        deployment=deployment_name(version.name, version.version),
        baseline=about,
        production={
            "inputs": len(inputs),
            "outputs": 0 if outputs is None else len(outputs),
            "files": files,
            "folder": display_path(folder),
        },
        measures=measures,
    )
    prediction = monitoring.signals.prediction_drift
    if prediction.enabled and not prediction.target_column:
        result.notes.append(
            "prediction drift not computed: set monitoring.signals.prediction_drift"
            ".target_column to the training data's label column"
        )
    elif prediction.enabled and outputs is None:
        result.notes.append("prediction drift not computed: no model_outputs were collected")
    target = report_dir or state / "monitoring" / endpoint / result.deployment
    result.reports = report.write(result, target)
    return result


def _served_version(loaded: LoadedConfig, state: Path, endpoint: str, reference: str | None):
    """`reference`, else the version the local endpoint serves, else the champion."""
    from mlops.backends.local.serving import LocalEndpoints
    from mlops.services.deploy import model_name
    from mlops.services.models import show

    if reference:
        return show(state, reference)
    served = LocalEndpoints(state).get(endpoint)
    if served is not None:
        return show(state, f"{served.model}:{served.version}")
    return show(state, model_name(loaded))


def read_collected(folder: Path) -> tuple[pd.DataFrame | None, int]:
    """The rows of every record under `folder` (one JSON record a line, its `data` a list
    of rows, as Azure ML writes them), with the number of files; None when there are none."""
    import pandas as pd

    files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    rows: list[dict[str, Any]] = []
    for path in files:
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:  # bytes: json.loads takes UTF-8 and refuses anything else as a ValueError
                data = json.loads(line)["data"]
            except (ValueError, KeyError, TypeError):
                raise BadInputError(
                    f"{display_path(path)}:{number}: not a collected-data record",
                    hint="collected files hold one JSON record per line with its rows in"
                    " `data`; remove the damaged file",
                ) from None
            rows += data if isinstance(data, list) else [data]
    if not rows:
        return None, len(files)
    return pd.DataFrame(rows), len(files)


def read_baseline(loaded: LoadedConfig, version: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The data `version` was trained on, from its dataset_name and dataset_version tags."""
    import pandas as pd

    model = f"{version.name}:{version.version}"
    name = version.tags.get("dataset_name")
    trained_on = version.tags.get("dataset_version", "")
    asset = loaded.config.data.get(name) if name else None
    if asset is None or asset.local_path is None:
        raise BadInputError(
            f"no baseline for {model}: its lineage names dataset {name or '(none)'}, which"
            f" mlops.yaml's data section has no local_path for",
            hint=f"add data.{name or '<name>'}.local_path to mlops.yaml",
        )
    path = loaded.root / asset.local_path
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise BadInputError(
            f"no baseline for {model}: data.{name}.local_path {asset.local_path} has no CSV",
            hint="restore the training data the model was trained on",
        )
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()[:16] if path.is_file() else ""
    if trained_on not in (digest, asset.version) and path.is_file():
        raise BadInputError(
            f"no baseline for {model}: it was trained on {name} version {trained_on}, but"
            f" {asset.local_path} is now version {digest}",
            hint="restore that version of the data (git log -- "
            f"{asset.local_path}), or monitor a model trained on this one (--model)",
        )
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return frame, {
        "dataset": name,
        "version": trained_on,
        "path": asset.local_path,
        "rows": len(frame),
    }
