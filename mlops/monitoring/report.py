"""The monitor's report: a self-contained HTML page (drift table, inline SVG plots, no
script, no network) and the same facts as JSON, for people and for pipelines."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops.monitoring.local import Monitored
    from mlops.monitoring.signals import Measure

HTML, JSON = "report.html", "report.json"
_W, _H, _PAD = 360, 150, 24
_BASE, _PROD = "#4c72b0", "#dd8452"
_HEAD = (
    "<thead><tr><th>signal</th><th>feature</th><th>metric</th><th>value</th><th>threshold</th>"
    "<th>drifted</th></tr></thead>"
)


def write(result: Monitored, folder: Path) -> dict[str, str]:
    """Write report.html and report.json into `folder`; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"html": folder / HTML, "json": folder / JSON}
    reports = {kind: str(path) for kind, path in paths.items()}
    data = {**result.to_dict(), "reports": reports}
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    paths["html"].write_text(html(result), encoding="utf-8")
    return reports


def html(result: Monitored) -> str:
    """The page: a summary, one table row per measure, one plot per drift measure."""
    fired = [m for m in result.measures if m.drifted]
    verdict = (
        f"{len(fired)} of {len(result.measures)} measures crossed their threshold"
        if fired
        else f"no signal crossed its threshold ({len(result.measures)} measures)"
    )
    ordered = sorted(result.measures, key=_order)
    rows = "\n".join(_row(m) for m in ordered if m.signal != "data_quality")
    quality = "\n".join(_row(m) for m in ordered if m.signal == "data_quality")
    plots = "\n".join(_figure(m) for m in sorted(result.measures, key=_order) if m.histogram)
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    base = result.baseline
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Model monitor: {escape(result.model)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.drifted td {{ background: #fde2e1; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 0.9em; }}
</style>
</head>
<body>
<h1>Model monitor: {escape(result.model)}</h1>
<p id="verdict" data-drifted="{str(bool(fired)).lower()}">{escape(verdict)}.</p>
<p>Endpoint {escape(result.endpoint)}, deployment {escape(result.deployment)}:
{result.production["inputs"]} collected input rows, {result.production["outputs"]} output rows,
against the training data {escape(str(base["dataset"]))} version {escape(str(base["version"]))}
({base["rows"]} rows, {escape(str(base["path"]))}).</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Drift</h2>
<table id="drift-table">
{_HEAD}
<tbody>
{rows}
</tbody>
</table>
<h2>Distributions</h2>
<p><span style="color:{_BASE}">&#9632;</span> training data (baseline)
<span style="color:{_PROD}">&#9632;</span> production (collected)</p>
<div class="plots">
{plots}
</div>
<h2>Data quality</h2>
<table id="quality-table">
{_HEAD}
<tbody>
{quality}
</tbody>
</table>
</body>
</html>
"""


def _order(measure: Measure) -> tuple:
    return (not measure.drifted, measure.signal, measure.column, measure.metric)


def _row(m: Measure) -> str:
    return (
        f'<tr class="{"drifted" if m.drifted else "ok"}" data-feature="{escape(m.column)}">'
        f"<td>{m.signal}</td><td>{escape(m.column)}</td><td>{m.metric}</td>"
        f'<td class="num">{m.value:.4f}</td><td class="num">{m.threshold:g}</td>'
        f"<td>{'yes' if m.drifted else 'no'}</td></tr>"
    )


def _figure(m: Measure) -> str:
    caption = f"{m.column}: {m.metric} {m.value:.4f} (threshold {m.threshold:g})"
    return (
        f'<figure data-feature="{escape(m.column)}">{_svg(m)}'
        f"<figcaption>{escape(caption)}{' — drifted' if m.drifted else ''}</figcaption></figure>"
    )


def _svg(m: Measure) -> str:
    """Bars of both samples' shares per bin (or class), side by side, in one small SVG."""
    histogram: dict[str, Any] = m.histogram
    base, prod = histogram["baseline"], histogram["production"]
    count = len(base)
    top = max([*base, *prod, 1e-9])
    slot = (_W - 2 * _PAD) / count
    bars = []
    for index, (b, p) in enumerate(zip(base, prod, strict=True)):
        x = _PAD + index * slot
        for offset, value, colour in ((0.0, b, _BASE), (slot / 2, p, _PROD)):
            height = (_H - 2 * _PAD) * value / top
            bars.append(
                f'<rect x="{x + offset:.1f}" y="{_H - _PAD - height:.1f}"'
                f' width="{max(slot / 2 - 1, 0.5):.1f}" height="{height:.1f}" fill="{colour}"/>'
            )
    if "edges" in histogram:
        low, high = histogram["edges"][0], histogram["edges"][-1]
        axis = f"{low:.3g} … {high:.3g}"
    else:
        axis = " / ".join(histogram["labels"])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}"'
        f' viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(m.column)} distribution">'
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#888"/>'
        + "".join(bars)
        + f'<text x="{_W / 2}" y="{_H - 6}" font-size="11" text-anchor="middle">'
        f"{escape(axis)}</text></svg>"
    )
