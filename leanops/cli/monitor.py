"""`leanops monitor run / watch` and `leanops alerts list / show / ack`."""

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
