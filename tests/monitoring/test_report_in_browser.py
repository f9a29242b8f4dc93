"""The monitor's HTML report opens as a page in a real browser (headless Chromium, Debian's
package), offline: its drift table and plots are there and drawn.

Outside CI (CI unset) the test skips when Chromium is not installed; in CI it fails, since
.ci/run installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.config.monitoring import Monitoring
from mlops.monitoring import report, signals
from mlops.monitoring.local import Monitored

FEATURES = ("radius", "texture", "smoothness")
SHIFTED = "texture"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail("chromium is not installed in CI: .ci/run must `apt-get install -y chromium`")
    pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); CI runs this")


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with its own profile, no network (a proxy that does not exist)."""
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # the tests run as root in CI
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",  # anything the page fetched from a CDN would fail
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _report(folder: Path) -> Path:
    """A report of real measures: three features, one of them scaled by 3."""
    rng = np.random.default_rng(0)
    baseline = pd.DataFrame({f: rng.normal(10, 2, 500) for f in FEATURES})
    baseline["label"] = rng.integers(0, 2, 500)
    inputs = baseline[list(FEATURES)].sample(300, random_state=0)
    inputs[SHIFTED] *= 3
    outputs = pd.DataFrame({"predictions": rng.integers(0, 2, 300)})
    monitoring = Monitoring.model_validate(
        {"signals": {"prediction_drift": {"target_column": "label"}}}
    )
    measures = signals.compute(monitoring, baseline, inputs, outputs)
    result = Monitored(
        model="demo:1",
        endpoint="demo-online",
        deployment="demo-1",
        baseline={"dataset": "demo", "version": "1", "path": "data/demo.csv", "rows": 500},
        production={"inputs": 300, "outputs": 300, "files": 1, "folder": "x"},
        measures=measures,
    )
    return Path(report.write(result, folder)["html"])


class _Page(HTMLParser):
    """What a test looks for in the DOM: drift table rows, SVG plots and their bars."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.svgs = 0
        self.bars = 0
        self.external: list[str] = []
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = attributes.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None and "data-feature" in attributes:
            self.tables[self._table].append(attributes)
        elif tag == "svg":
            self.svgs += 1
        elif tag == "rect":
            self.bars += 1
        for name in ("src", "href"):
            if attributes.get(name, "").startswith(("http:", "https:", "//")):
                self.external.append(attributes[name])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None


def test_the_report_renders_its_drift_table_and_plots_in_headless_chromium(
    tmp_path: Path,
) -> None:
    chromium = _chromium()
    page = _report(tmp_path / "report")

    dom = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    parsed = _Page()
    parsed.feed(dom)

    drift = parsed.tables["drift-table"]
    assert {row["data-feature"] for row in drift} == {*FEATURES, "predictions"}
    drifted = [row["data-feature"] for row in drift if row["class"] == "drifted"]
    assert SHIFTED in drifted
    assert {"radius", "smoothness"}.isdisjoint(drifted)
    assert parsed.tables["quality-table"]
    assert parsed.svgs == len(FEATURES) + 1  # one plot per drift measure
    assert parsed.bars > 2 * parsed.svgs
    assert parsed.external == []  # opens offline: nothing fetched from elsewhere


def test_the_plots_are_drawn_in_both_colours(tmp_path: Path) -> None:
    """A screenshot of the page holds the baseline's and production's bar colours."""
    from PIL import Image

    chromium = _chromium()
    page = _report(tmp_path / "report")
    shot = tmp_path / "page.png"

    _browser(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.as_uri(),
    )

    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20) or []
    counts = {rgb: n for n, rgb in colours}
    assert counts.get((0x4C, 0x72, 0xB0), 0) > 500  # baseline bars
    assert counts.get((0xDD, 0x84, 0x52), 0) > 500  # production bars
