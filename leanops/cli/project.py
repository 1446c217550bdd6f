"""Project commands: init, status, config show, db upgrade, fsck."""

from __future__ import annotations

from pathlib import Path

import typer

from leanops.cli.common import console, print_json, table, workspace
from leanops.config import load_settings, provenance
from leanops.project import write_project
from leanops.workspace import Workspace

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the metadata store's schema.", no_args_is_help=True)


team_app = typer.Typer(help="Share the project: switch its store to team mode (tokens only).", no_args_is_help=True)


@team_app.command("enable")
def team_enable() -> None:
    """Stop trusting the configured name: from now on everyone acts with a token. There is no way back."""
    with workspace() as ws:
        ws.enable_team_mode()
    console.print("[green]team mode[/]: every command and SDK call now needs LEANOPS_TOKEN or --token.")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.add_typer(team_app, name="team")
    app.command()(status)
    app.command()(fsck)
    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")


def init(
    directory: Path = typer.Argument(Path("."), help="Project folder (created if missing)."),
    project: str | None = typer.Option(None, help="Project name (default: the folder's name)."),
    owner: str | None = typer.Option(None, help="Project owner and first admin (default: your login)."),
    force: bool = typer.Option(False, help="Overwrite an existing leanops.yaml."),
    mode: str | None = typer.Option(
        None,
        help="Trust mode recorded in the store: local (one person, SQLite only) or team (tokens only). "
        "Default: local for a SQLite file, team otherwise.",
    ),
) -> None:
    """Create leanops.yaml, the metadata store and the first admin in DIRECTORY."""
    from leanops.identity import Mode

    if mode is not None and mode not in tuple(Mode):
        raise typer.BadParameter("use local or team", param_hint="--mode")
    config = write_project(directory, project=project, owner=owner, force=force)
    with Workspace.from_config(config, create=True) as ws:
        ws.bootstrap(mode=mode)
        console.print(f"[green]Initialised[/] project [bold]{ws.settings.project}[/] in {config.parent}")
        info = ws.status()
        console.print(
            f"  config   {config}\n  store    {info['store']}\n  mode     {info['mode']}\n  admin    {ws.actor.name}"
        )
        if ws.issued_token:
            console.print("Your admin token (shown once; keep it in LEANOPS_TOKEN):", highlight=False)
            console.print(ws.issued_token, highlight=False, soft_wrap=True)


def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the project, the acting user and its roles, and the stores in use."""
    with workspace() as ws:
        info = ws.status()
    if as_json:
        return print_json(info)
    rows = [
        [k, ", ".join(f"{z}: {'/'.join(r) or '-'}" for z, r in v.items()) if k == "roles" else v]
        for k, v in info.items()
    ]
    console.print(table("leanops status", ["", ""], rows))


def fsck() -> None:
    """Verify every artifact's hash, every metadata reference and the audit chain."""
    with workspace() as ws:
        report = ws.fsck()
    for leftover in report.leftovers:
        console.print(
            f"[yellow]leftover[/] {leftover}: an interrupted write; `leanops gc --apply` clears it", highlight=False
        )
    for d in report.damage:
        console.print(f"[red]{d.kind}[/] {d.digest[:12]} at {d.where}: {d.detail}", highlight=False)
    console.print(
        f"checked {report.blobs_checked} blobs and {report.refs_checked} references: "
        + ("[green]no damage[/]" if report.ok else f"[red]{len(report.damage)} problem(s)[/]")
    )
    if not report.ok:
        raise typer.Exit(8)


@config_app.command("show")
def config_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print every effective setting and where it came from (file:line, env or default)."""
    settings = load_settings()
    rows = provenance(settings)
    if as_json:
        return print_json([{"key": k, "value": v, "source": s} for k, v, s in rows])
    console.print(table(f"{settings.config_file}", ["key", "value", "source"], [list(r) for r in rows]))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations to the metadata store."""
    with Workspace.from_config(migrate=False, user="-") as ws:
        revision = ws.upgrade()
        console.print(f"schema at revision [bold]{revision}[/] ({ws.status_store_url()})", highlight=False)
