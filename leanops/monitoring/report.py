"""`leanops monitor report`: one self-contained HTML page for people who would rather look than
read — the checks and their tiers, drift per feature, latency over the window, the
calibration curve, and the alerts. Plotly draws the charts; its script is inlined once, so
the file opens offline and can be attached to an incident."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from leanops.alerts import Alert
from leanops.monitoring.service import CheckResult


def _figure_html(figure: Any, first: bool) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=first)


def _charts(results: list[CheckResult], frame: pd.DataFrame) -> list[Any]:
    import plotly.graph_objects as go

    charts = []
    drift = next((r for r in results if r.check in ("drift", "drift_js") and r.details.get("per_feature")), None)
    if drift:
        per = drift.details["per_feature"]
        fig = go.Figure(go.Bar(x=list(per), y=list(per.values()), name=drift.check))
        for y, label in ((0.1, "moderate"), (0.2, "significant")):
            fig.add_hline(y=y, line_dash="dot", annotation_text=label)
        fig.update_layout(title=f"Drift per feature ({drift.check}) against the training profile", yaxis_title="PSI")
        charts.append(fig)
    if len(frame) and "latency_ms" in frame:
        requests = frame.drop_duplicates("request_id").set_index("time").sort_index()
        per_minute = requests.latency_ms.resample("1min").quantile(0.95).dropna()
        fig = go.Figure(go.Scatter(x=per_minute.index, y=per_minute.values, mode="lines+markers", name="p95"))
        fig.update_layout(title="Latency p95 per minute (server side)", yaxis_title="ms")
        charts.append(fig)
    curve = next((r.details.get("curve") for r in results if r.details.get("curve")), None)
    if curve:
        x, y = [c[0] for c in curve], [c[1] for c in curve]
        fig = go.Figure(
            [
                go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}),
                go.Scatter(x=x, y=y, mode="lines+markers", name="observed"),
            ]
        )
        fig.update_layout(title="Calibration (reliability curve)", xaxis_title="predicted", yaxis_title="observed")
        charts.append(fig)
    return charts


def write_report(
    dest: Path,
    *,
    model: str,
    zone: str,
    version: int,
    results: list[CheckResult],
    frame: pd.DataFrame,
    alerts: list[Alert],
) -> Path:
    """Write the report to `dest` (through a temp name) and return it."""
    rows = "".join(
        f"<tr><td>{html.escape(r.check)}</td><td>{'no data' if r.no_data else f'{r.value:.4g}'}</td>"
        f"<td>{r.rows}</td><td>{html.escape(', '.join(r.breached) or 'ok')}</td></tr>"
        for r in results
    )
    alert_rows = "".join(
        f"<tr><td>{a.tier}</td><td>{a.state}</td><td>{html.escape(a.what_happened())}</td>"
        f"<td>{html.escape(a.next_steps)}</td><td>{html.escape(a.runbook)}</td></tr>"
        for a in alerts
    )
    charts = "".join(_figure_html(fig, i == 0) for i, fig in enumerate(_charts(results, frame)))
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(model)} v{version} in {html.escape(zone)}: monitoring</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head><body>
<h1>{html.escape(model)} v{version} in {html.escape(zone)}</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC over {len(frame)} logged rows.</p>
<h2>Checks</h2><table><tr><th>check</th><th>value</th><th>rows</th><th>tiers crossed</th></tr>{rows}</table>
<h2>Alerts</h2><table><tr><th>tier</th><th>state</th><th>what happened</th><th>what to do</th><th>runbook</th></tr>
{alert_rows or '<tr><td colspan="5">none</td></tr>'}</table>
{charts or "<p>No data to plot yet.</p>"}
</body></html>"""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(dest)
    return dest
