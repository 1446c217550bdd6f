"""`leanops monitor run / watch`, `leanops alerts list / show / ack`, `leanops drill`, `leanops runbook`."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from leanops.cli.common import console, print_json, table, workspace

monitor_app = typer.Typer(help="Evaluate a model's monitoring checks over its prediction log.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: what happened, why it matters, what to do.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(monitor_app, name="monitor")
    root.add_typer(alerts_app, name="alerts")
    root.command()(drill)
    root.command()(runbook)


def _print_report(report) -> None:  # noqa: ANN001
    rows = [
        [
            r.check,
            "no data" if r.no_data else f"{r.value:.4g}",
            r.rows,
            ", ".join(r.breached) or "ok",
            r.details.get("worst", ""),
        ]
        for r in report.results
    ]
    console.print(
        table(f"{report.model} v{report.version} in {report.zone}", ["check", "value", "rows", "tiers", "worst"], rows)
    )
    for e in report.events:
        tag = "resolved" if e.kind == "resolve" else str(e.alert.tier)
        console.print(f"[bold]{tag}[/] {escape(e.alert.what_happened())}" + ("" if e.send else " (not paged)"))
    if report.rollback:
        console.print(f"[bold red]automatic rollback[/]: {report.rollback}")


@monitor_app.command("run")
def run(
    name: str = typer.Argument(...),
    zone: str = typer.Option("production", "--zone"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Evaluate every check once; alerts are stepped, stored and sent."""
    with workspace() as ws:
        report = ws.monitoring.run(name, zone)
    if as_json:
        return print_json(
            {
                "model": report.model,
                "zone": report.zone,
                "version": report.version,
                "results": [r.__dict__ for r in report.results],
                "events": [{"kind": e.kind, "sent": e.send, **e.alert.model_dump(mode="json")} for e in report.events],
                "rollback": report.rollback,
            }
        )
    _print_report(report)


@monitor_app.command("watch")
def watch(
    name: str = typer.Argument(...),
    zone: str = typer.Option("production", "--zone"),
    every: float = typer.Option(60.0, "--every", min=0.1, help="Seconds between evaluations."),
    times: int = typer.Option(0, "--times", min=0, help="Stop after this many (0: until interrupted)."),
) -> None:
    """Evaluate on a schedule until interrupted."""
    done = 0
    with workspace() as ws:
        while not times or done < times:
            _print_report(ws.monitoring.run(name, zone))
            done += 1
            if not times or done < times:
                time.sleep(every)


@alerts_app.command("list")
def list_alerts(
    name: str | None = typer.Argument(None),
    zone: str | None = typer.Option(None, "--zone"),
    active: bool = typer.Option(False, "--active", help="Only pending and firing alerts."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Alerts, newest first."""
    with workspace() as ws:
        found = ws.monitoring.alerts(name, zone=zone, active=True if active else None)
    if as_json:
        return print_json([a.model_dump(mode="json") for a in found])
    rows = [
        [
            a.id[:8],
            a.model,
            a.zone,
            a.tier,
            a.state,
            a.check,
            "" if a.value is None else f"{a.value:.4g}",
            f"{a.since:%Y-%m-%d %H:%M}",
            a.acked_by or "",
        ]
        for a in found
    ]
    console.print(table("Alerts", ["id", "model", "zone", "tier", "state", "check", "value", "since", "acked"], rows))


@alerts_app.command("show")
def show(alert_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """One alert: what happened, why it matters, what to do, the runbook."""
    with workspace() as ws:
        alert = ws.monitoring.alert(alert_id)
    if as_json:
        return print_json(alert.model_dump(mode="json"))
    console.print(f"[bold]{alert.tier} {alert.state}[/] {alert.id}")
    console.print(escape(alert.text()), highlight=False)


@alerts_app.command("ack")
def ack(alert_id: str = typer.Argument(...)) -> None:
    """Say you are on it."""
    with workspace() as ws:
        alert = ws.monitoring.ack(alert_id)
    console.print(f"acknowledged {alert.id[:8]} ({alert.check}, {alert.tier}) as {alert.acked_by}")


def drill(
    name: str = typer.Argument(...),
    zone: str = typer.Option("staging", "--zone"),
    url: str = typer.Option("http://127.0.0.1:8080", "--url", help="The live server serving NAME in ZONE."),
    scenario: str = typer.Option("drift", "--scenario"),
    timeout: float = typer.Option(60.0, "--timeout", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Rehearse an incident against a live server; exits 1 when any step fails."""
    from leanops.monitoring.drill import run_drill

    with workspace() as ws:
        report = run_drill(ws, name, zone, url, scenario=scenario, timeout=timeout)
    if as_json:
        print_json({**report.__dict__, "steps": [s.__dict__ for s in report.steps], "passed": report.passed})
    else:
        for s in report.steps:
            mark = "[green]pass[/]" if s.passed else "[bold red]FAIL[/]"
            console.print(f"{mark} {escape(s.name)}" + (f" — {escape(s.detail)}" if s.detail else ""))
        console.print(
            f"time to detect {report.time_to_detect_s}s, to roll back {report.time_to_rollback_s}s, "
            f"{report.failed} of {report.requests} requests failed"
        )
    if not report.passed:
        raise typer.Exit(1)


RUNBOOK = """\
# Runbook: {name}

Owner: {owner}. Contact: {contact}.

## Symptoms
- The alert that links here fired: read its *what happened* line (check, value, threshold, window, version, zone).
- `leanops alerts list {name} --active`, `leanops monitor run {name} --zone production`.

## Likely causes
- Inputs drifted: an upstream feed changed (schema, units, a new source) or the population moved.
- Latency or errors: a slow dependency, an overloaded host, a bad release.
- Accuracy or calibration fell once labels arrived: the world moved away from the training data.

## Immediate mitigation
- Roll back to the previous approved version (one command, recorded with its reason):
  `leanops rollback {name} --zone production --reason "<alert id>: <what you saw>"`
- A critical alert may have done this already: `leanops models history {name}` shows it.

## Then
- Find the cause; retrain from the job spec if the shift is real: `leanops jobs run jobs/train.yaml`.
- Evaluate, approve and promote the fix: `leanops models evaluate {name} VERSION --zone production`.
- Acknowledge the alert: `leanops alerts ack ID`; write down what happened for the weekly review.
"""


def runbook(
    name: str = typer.Argument(..., help="The model the runbook is for."),
    owner: str = typer.Option("", "--owner", help="Default: the owner in models/NAME.yaml."),
    contact: str = typer.Option("the owner's usual channel", "--contact"),
) -> None:
    """Write runbooks/NAME.md from the template: symptoms, causes, mitigation with the rollback command, owner."""
    from leanops.errors import Conflict

    with workspace() as ws:
        root = ws.settings.root
        if not owner:
            try:
                owner = ws.models.rules(name).owner or ""
            except Exception:  # noqa: BLE001 - no rules yet: the owner is asked for below
                owner = ""
    path = root / "runbooks" / f"{name}.md"
    if path.exists():
        raise Conflict(f"{path} exists already.", hint="Edit it; a runbook is yours once written.")
    path.parent.mkdir(exist_ok=True)
    path.write_text(RUNBOOK.format(name=name, owner=owner or "(name an owner)", contact=contact))
    console.print(f"wrote {path.relative_to(root)}; link it from monitoring/{name}.yaml (runbook: runbooks/{name}.md)")


@monitor_app.command("report")
def report(
    name: str = typer.Argument(...),
    zone: str = typer.Option("production", "--zone"),
    out: str = typer.Option("", "--out", "-o", help="Default: monitoring-NAME-ZONE.html"),
) -> None:
    """Write an HTML report with plots: drift per feature, latency, calibration, alerts."""
    from pathlib import Path

    from leanops.monitoring.report import write_report

    with workspace() as ws:
        mv, results, windows = ws.monitoring.evaluate(name, zone)
        alerts = ws.monitoring.alerts(name, zone=zone)
    frame = windows[max(windows)] if windows else None
    import pandas as pd

    path = write_report(
        Path(out or f"monitoring-{name}-{zone}.html"),
        model=name,
        zone=zone,
        version=mv.version,
        results=results,
        frame=frame if frame is not None else pd.DataFrame(),
        alerts=alerts,
    )
    console.print(f"wrote {path}")
