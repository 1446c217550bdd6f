"""The model registry: register, list, show, lineage, evaluate, approve, history — and the
top-level `promote` and `rollback`, the two commands that change what a zone serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from leanops.cli.common import console, print_json, table, workspace
from leanops.registry import Evidence, LineageReport

app = typer.Typer(help="Model registry: versions, lineage, evidence and approvals.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
    root.command()(promote)
    root.command()(rollback)


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if hasattr(value, "strftime") else ("" if value is None else str(value))


@app.command("register")
def register_version(
    run_id: str = typer.Argument(..., help="A finished run whose required metadata is complete."),
    name: str = typer.Option(..., "--name", "-n", help="Model name; the version is the next number."),
    model: str = typer.Option("model", "--model", help="Which logged model of the run (run.log_model name)."),
    parent: str | None = typer.Option(None, "--parent", help="Parent version (default: the newest one)."),
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make the next version of NAME from RUN_ID's logged model (refused, with what is missing, if incomplete)."""
    with workspace() as ws:
        mv = ws.models.register(run_id, name, model=model, parent=parent, description=description)
    if as_json:
        return print_json(mv.model_dump(mode="json"))
    console.print(
        f"[green]Registered[/] {mv.ref} from run {mv.run_id} ({mv.manifest.flavor}, {len(mv.manifest.files)} files)"
    )


@app.command("list")
def list_versions(name: str | None = typer.Argument(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Every model version, with the zones each one serves."""
    with workspace() as ws:
        versions = ws.models.list(name)
        aliases = ws.models.aliases(name)
    serving = {(a.name, a.version): [] for a in aliases}
    for a in aliases:
        serving[(a.name, a.version)].append(str(a.zone))
    if as_json:
        return print_json(
            [v.model_dump(mode="json") | {"serving": serving.get((v.name, v.version), [])} for v in versions]
        )
    rows = [
        [
            v.name,
            v.version,
            ", ".join(serving.get((v.name, v.version), [])),
            v.manifest.flavor,
            v.run_id[:12],
            v.owner,
            _when(v.created_at),
        ]
        for v in versions
    ]
    console.print(
        table(
            f"model versions ({len(rows)})", ["name", "version", "serving", "flavor", "run", "owner", "created"], rows
        )
    )


@app.command()
def show(
    name: str,
    version: str = typer.Argument("latest", help="3, v3, latest, staging or production."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One version: its package (flavor, signature, file hashes), run, approvals and zones."""
    with workspace() as ws:
        report = ws.models.lineage(name, version)
    if as_json:
        return print_json(report.model_dump(mode="json"))
    mv = report.model
    sig = mv.manifest.signature
    inputs = (
        (
            ", ".join(f"{c.name}:{c.dtype}" for c in sig.inputs)
            if isinstance(sig.inputs, list)
            else f"{sig.inputs.dtype}{sig.inputs.shape}"
        )
        if sig
        else "-"
    )
    facts = [
        ["version", mv.ref],
        ["run", mv.run_id],
        ["owner", mv.owner],
        ["created", f"{_when(mv.created_at)} by {mv.created_by}"],
        ["flavor", mv.manifest.flavor],
        ["inputs", inputs],
        ["outputs", f"{sig.outputs.dtype}{sig.outputs.shape}" if sig else "-"],
        ["serving", ", ".join(map(str, report.serving)) or "-"],
        ["description", escape(mv.description)],
    ]
    facts += [[f"file {f.path}", f"sha256:{f.digest} ({f.size} bytes)"] for f in mv.manifest.files]
    facts += [
        [f"approved for {a.zone}", escape(f"{a.approver} at {_when(a.approved_at)}: {a.reason}")]
        for a in report.approvals
    ]
    console.print(table(f"model {mv.ref}", ["field", "value"], facts))


@app.command()
def lineage(
    name: str,
    version: str = typer.Argument("latest", help="3, v3, latest, staging or production."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Where a version came from: run → dataset snapshots → code commit → features → parents."""
    with workspace() as ws:
        report = ws.models.lineage(name, version)
    if as_json:
        return print_json(report.model_dump(mode="json"))
    console.print(lineage_tree(report))


def lineage_tree(report: LineageReport) -> Tree:
    mv, lin, run = report.model, report.model.lineage, report.run
    serving = f" [green]serving {', '.join(map(str, report.serving))}[/]" if report.serving else ""
    made = f"{mv.manifest.flavor}, registered {_when(mv.created_at)} by {mv.created_by}"
    tree = Tree(f"[bold]{mv.ref}[/] ({made}){serving}")
    node = tree.add(escape(f"run {run['id']} [{run['status']}] by {run['owner']}: {run['purpose']}"))
    if lin.job_id:
        node.add(f"job {lin.job_id}")
    data = node.add("datasets")
    for d in lin.datasets:
        data.add(f"{d.ref or '?'}  snapshot {d.id[:12]}  ({d.data_class})")
    code = node.add(f"code {lin.code.commit or '-'}{' (uncommitted changes)' if lin.code.dirty else ''}")
    if lin.code.remote:
        code.add(f"remote {lin.code.remote}")
    node.add(f"features {', '.join(lin.features) or '-'}")
    if lin.environment:
        env = lin.environment
        node.add(f"environment Python {env.get('python')}, packages {str(env.get('packages_hash'))[:12]}")
    if run.get("metrics"):
        node.add("metrics " + ", ".join(f"{k}={v:.4g}" for k, v in run["metrics"].items()))
    parents = tree.add("parents") if report.ancestors else None
    for a in report.ancestors:
        assert parents is not None
        parents = parents.add(f"{mv.name}/v{a['version']} (run {a['run_id'][:12]})")
    for a in report.approvals:
        tree.add(escape(f"approved for {a.zone} by {a.approver} at {_when(a.approved_at)}: {a.reason}"))
    return tree


@app.command()
def evaluate(
    name: str,
    version: str,
    zone: str = typer.Option(..., "--zone", "-z", help="Target zone: staging or production."),
    rules: Path | None = typer.Option(None, "--rules", help="Promotion rules (default: models/NAME.yaml)."),
    trust: list[str] = typer.Option([], "--trust", help="Extra type the model file may build (repeatable)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Collect the evidence for serving a version in a zone; exits 1 when it does not pass."""
    with workspace() as ws:
        evidence = ws.models.evaluate(name, version, zone, rules=rules, trusted=trust)
    if as_json:
        print_json(evidence.model_dump(mode="json") | {"passed": evidence.passed})
    else:
        print_evidence(evidence)
    if not evidence.passed:
        raise typer.Exit(1)


def print_evidence(evidence: Evidence) -> None:
    rows = [
        ["[green]pass[/]" if i.passed else "[red]FAIL[/]", i.name, "yes" if i.required else "no", escape(i.detail)]
        for i in evidence.items
    ]
    console.print(
        table(
            f"evidence {evidence.id} for {evidence.name}/v{evidence.version} in {evidence.zone}",
            ["result", "check", "required", "detail"],
            rows,
        )
    )
    verdict = "[green]passes[/]" if evidence.passed else "[red]does not pass[/]"
    console.print(f"Evidence {verdict} for {evidence.zone} (rules {evidence.rules_file}).")


@app.command()
def approve(
    name: str,
    version: str,
    zone: str = typer.Option(..., "--zone", "-z", help="The zone the approval is for."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept with the approval."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a version for a zone on its latest passing evidence (not your own model)."""
    with workspace() as ws:
        approval = ws.models.approve(name, version, zone, reason=reason)
    if as_json:
        return print_json(approval.model_dump(mode="json"))
    console.print(
        f"[green]Approved[/] {name}/v{approval.version} for {approval.zone} by {approval.approver} "
        f"(evidence {approval.evidence_id})"
    )


@app.command()
def history(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Which version each zone served when, and every move with its actor and reason."""
    with workspace() as ws:
        hist = ws.models.history(name)
    if as_json:
        return print_json(hist.model_dump(mode="json"))
    current = ", ".join(f"{a.zone} → v{a.version}" for a in hist.aliases) or "nothing serves yet"
    console.print(f"[bold]{name}[/]: {current}")
    rows = [
        [s.zone, f"v{s.version}", _when(s.since), _when(s.until) if s.until else "now", s.action, s.actor]
        for s in hist.served
    ]
    console.print(table("served", ["zone", "version", "since", "until", "how", "actor"], rows))
    rows = [
        [
            _when(m.at),
            m.zone,
            m.action,
            f"v{m.previous}" if m.previous else "-",
            f"v{m.version}",
            m.actor,
            escape(m.reason),
        ]
        for m in hist.moves
    ]
    console.print(table("moves", ["when", "zone", "action", "from", "to", "actor", "reason"], rows))


def promote(
    name: str,
    version: str,
    to: str = typer.Option(..., "--to", help="staging or production."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the history."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Point a zone at a version: only if policy allows and its evidence (and approval) passes."""
    with workspace() as ws:
        move = ws.models.promote(name, version, to, reason=reason)
    _moved(move, "Promoted", as_json)


def rollback(
    name: str,
    zone: str = typer.Option(..., "--zone", "-z", help="The zone to roll back."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the history."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Return a zone to the previous approved version, in one command."""
    with workspace() as ws:
        move = ws.models.rollback(name, zone, reason=reason)
    _moved(move, "Rolled back", as_json)


def _moved(move: Any, verb: str, as_json: bool) -> None:
    if as_json:
        return print_json(move.model_dump(mode="json"))
    before = f"v{move.previous}" if move.previous else "nothing"
    console.print(f"[green]{verb}[/] {move.name} in {move.zone}: {before} → v{move.version} by {move.actor}")


__all__ = ["app", "register"]
