"""Policy as code: check, explain, doc, and time-boxed exceptions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from leanops.cli.common import console, print_json, table, workspace
from leanops.config import load_settings
from leanops.governance import parse_duration
from leanops.policy import Resource
from leanops.zones import Zone

app = typer.Typer(help="Check, explain and document the active policies; manage exceptions.", no_args_is_help=True)
exception_app = typer.Typer(help="Time-boxed, audited waivers (admin).", no_args_is_help=True)
app.add_typer(exception_app, name="exception")


def _context(pairs: list[str]) -> dict[str, object]:
    """k=v pairs; true/false become booleans so they match the schema's Bool attributes."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--context")
        out[key] = {"true": True, "false": False}.get(value.lower(), value)
    return out


def _resource(ref: str, owner: str) -> Resource:
    kind, sep, rid = ref.partition(":")
    if not sep:
        raise typer.BadParameter(f"{ref!r} is not Type:id (e.g. ModelVersion:churn/3)", param_hint="--resource")
    return Resource(type=kind, id=rid, owner=owner)


@app.command()
def check() -> None:
    """Validate the shipped bundle plus the project's policies against the schema."""
    from leanops.adapters.cedar import CedarPolicyEngine

    settings = load_settings()
    paths = [settings.root / p for p in settings.policy.paths]
    problems = CedarPolicyEngine.check_paths(paths)
    for p in problems:
        console.print(f"[red]{p.file}:{p.line}:{p.column}[/]: {p.message}", highlight=False)
    if problems:
        raise typer.Exit(2)
    engine = CedarPolicyEngine.load(paths)
    for warning in engine.broad:
        console.print(f"[yellow]warning[/] {escape(warning)}", highlight=False)
    console.print(f"[green]policies valid[/]: {len(engine.policies())} policies")


@app.command("status")
def status() -> None:
    """The effective bundle's hash, permits waiting for two approvals, and removed forbids still in force."""
    with workspace() as ws:
        pending = ws.governance.pending_permits()
        retained = ws.governance.retained_forbids()
        bundle = ws.policy_engine.bundle_hash
    console.print(f"bundle {bundle}")
    if not pending and not retained:
        return console.print("no policy change is waiting for approval")
    for p in pending:
        console.print(
            f"[yellow]pending[/] {escape(p.id)} ({escape(p.file)}:{p.line}): needs an admin and a second person"
        )
    for f in retained:
        console.print(
            f"[yellow]retained[/] {escape(f.id)} (removed from {escape(f.file)}): still in force until an admin and a "
            f"second person approve its removal: leanops policy approve {escape(f.id)}"
        )


@app.command("approve")
def approve(policy_id: str = typer.Argument(..., help="The @id of a pending permit or a retained forbid.")) -> None:
    """Approve a pending permit, or a retained forbid's removal; in effect once two people (one an admin) did."""
    with workspace() as ws:
        change, active = ws.governance.approve_change(policy_id)
    state = "[green]now in effect[/]" if active else "recorded; it needs one more approval (an admin, another person)"
    console.print(f"approved {escape(change.id)}: {state}")


@app.command()
def explain(
    principal: str = typer.Option(..., help="Who acts."),
    action: str = typer.Option(..., help="e.g. model.promote"),
    resource: str = typer.Option(..., help="Type:id, e.g. ModelVersion:churn/3"),
    owner: str = typer.Option("", help="Owner of the resource."),
    zone: Zone | None = typer.Option(None, "--in-zone", help="Zone of the action (default: configured)."),
    context: list[str] = typer.Option([], "--context", "-c", help="k=v, repeatable: data_class=sensitive"),
) -> None:
    """Show the decision for one request and the policies that made it."""
    with workspace() as ws:
        decision = ws.explain(principal, action, _resource(resource, owner), zone or ws.zone, _context(context))
    verdict = "[green]ALLOW[/]" if decision.allowed else "[red]DENY[/]"
    console.print(f"{verdict} {principal} {action} {resource} in {zone or ws.zone}")
    console.print("decided by: " + (", ".join(decision.policy_ids) or "no permitting policy (deny by default)"))
    for err in decision.errors:
        console.print(f"[yellow]error:[/] {err}")


@app.command()
def doc(out: Path | None = typer.Option(None, "--out", "-o", help="Write Markdown here (default: stdout).")) -> None:
    """Write a short Markdown page of what each role may do in each zone."""
    from leanops.policydoc import render_policy_doc

    with workspace() as ws:
        text = render_policy_doc(ws.policy_engine, ws.settings.zones, ws.settings.policy.escalation)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text)
    console.print(f"wrote {out}")


@exception_app.command("grant")
def grant(
    principal: str = typer.Option(..., help="Who the waiver is for."),
    action: str = typer.Option(..., help="The action it permits."),
    resource: str = typer.Option("*", help="Type:id or a glob over them."),
    zone: Zone | None = typer.Option(None, "--in-zone"),
    expires: str = typer.Option("7d", help="Lifetime: 8h, 7d (at most 30d)."),
    reason: str = typer.Option(..., help="Why, for the audit log."),
) -> None:
    """Grant a time-boxed exception; it expires by itself."""
    with workspace() as ws:
        waiver = ws.governance.grant_exception(
            principal, action, resource=resource, zone=zone, expires=parse_duration(expires), reason=reason
        )
    console.print(
        f"exception {waiver.id}: {principal} may {action} {resource} until {waiver.expires_at:%Y-%m-%d %H:%M} UTC"
    )


@exception_app.command("list")
def list_exceptions(as_json: bool = typer.Option(False, "--json")) -> None:
    """List exceptions with their state."""
    with workspace() as ws:
        rows, now = ws.governance.exceptions(), ws.clock.now()
    if as_json:
        return print_json([e.model_dump(mode="json") for e in rows])
    console.print(
        table(
            "policy exceptions",
            ["id", "principal", "action", "resource", "zone", "state", "expires", "reason"],
            [
                [
                    e.id,
                    e.principal,
                    e.action,
                    e.resource,
                    e.zone or "all",
                    "active" if e.active(now) else "ended",
                    f"{e.expires_at:%Y-%m-%d %H:%M}",
                    e.reason,
                ]
                for e in rows
            ],
        )
    )


@exception_app.command("revoke")
def revoke(exception_id: str) -> None:
    """End an exception now."""
    with workspace() as ws:
        ws.governance.revoke_exception(exception_id)
    console.print(f"revoked exception {exception_id}")
