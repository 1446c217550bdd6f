"""Users, service accounts, role grants and API tokens."""

from __future__ import annotations

import typer

from leanops.cli.common import console, print_json, table, workspace
from leanops.governance import parse_duration
from leanops.identity import PrincipalKind
from leanops.policy import Role
from leanops.zones import Zone

users_app = typer.Typer(help="Manage users, service accounts and their roles (admin).", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: str,
    role: list[Role] = typer.Option([], "--role", "-r", help="Role to grant (repeatable)."),
    zone: Zone | None = typer.Option(None, "--in-zone", help="Limit the roles to one zone."),
    service: bool = typer.Option(False, "--service", help="A service account rather than a person."),
) -> None:
    """Register a user or service account, optionally with roles."""
    with workspace() as ws:
        ws.users.add(name, kind=PrincipalKind.SERVICE if service else PrincipalKind.USER, roles=role, zone=zone)
    console.print(f"added {name}" + (f" with {', '.join(role)}" if role else ""))


@users_app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json")) -> None:
    """List principals and their role grants."""
    with workspace() as ws:
        rows = ws.users.list()
    if as_json:
        return print_json(
            [{**p.model_dump(mode="json"), "grants": [g.model_dump(mode="json") for g in gs]} for p, gs in rows]
        )
    console.print(
        table(
            "principals",
            ["name", "kind", "roles", "created by"],
            [[p.name, p.kind, ", ".join(f"{g.role}@{g.zone or 'all'}" for g in gs), p.created_by] for p, gs in rows],
        )
    )


@users_app.command("grant")
def grant(
    name: str, role: Role, zone: Zone | None = typer.Option(None, "--in-zone", help="Only in this zone.")
) -> None:
    """Grant a role, in every zone or one."""
    with workspace() as ws:
        added = ws.users.grant(name, role, zone)
    console.print(f"{name} {'now holds' if added else 'already held'} {role} in {zone or 'every zone'}")


@users_app.command("revoke")
def revoke(name: str, role: Role, zone: Zone | None = typer.Option(None, "--in-zone")) -> None:
    """Take a role away."""
    with workspace() as ws:
        ws.users.revoke(name, role, zone)
    console.print(f"revoked {role} from {name} in {zone or 'every zone'}")


@users_app.command("clear")
def clear(
    name: str,
    data_class: str = typer.Option("sensitive", "--class", help="Data class the clearance covers."),
    zone: Zone | None = typer.Option(None, "--in-zone", help="Only in this zone (default: every zone)."),
) -> None:
    """Clear a principal for sensitive data (admin): data access follows the person, not the zone named."""
    with workspace() as ws:
        added = ws.users.clear(name, data_class, zone)
    console.print(
        f"{name} {'is now' if added else 'was already'} cleared for {data_class} data in {zone or 'every zone'}"
    )


@users_app.command("unclear")
def unclear(
    name: str,
    data_class: str = typer.Option("sensitive", "--class", help="Data class of the clearance."),
    zone: Zone | None = typer.Option(None, "--in-zone", help="The zone the clearance was for."),
) -> None:
    """Withdraw a clearance."""
    with workspace() as ws:
        ws.users.unclear(name, data_class, zone)
    console.print(f"withdrew {name}'s {data_class} clearance in {zone or 'every zone'}")


@tokens_app.command("create")
def create(
    principal: str | None = typer.Option(None, "--for", help="Principal to mint for (admin); default yourself."),
    expires: str = typer.Option("8h", "--expires", help="Lifetime: 30m, 8h, 7d (at most 90d)."),
    description: str = typer.Option("", "--description", "-d"),
    zones: list[Zone] = typer.Option([], "--zone", help="Limit the token to this zone (repeatable; default: all)."),
) -> None:
    """Mint a token; it is shown once and only its hash is kept."""
    with workspace() as ws:
        issued = ws.users.create_token(
            principal, ttl=parse_duration(expires), description=description, zones=zones or None
        )
    where = ", ".join(issued.record.zones) if issued.record.zones else "every zone"
    console.print(
        f"token {issued.record.id} for {issued.record.principal} ({where}), "
        f"expires {issued.record.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    console.print("[bold]Copy it now; it will not be shown again:[/]")
    typer.echo(issued.plaintext)


@tokens_app.command("list")
def list_tokens(principal: str | None = typer.Option(None, "--for")) -> None:
    """List tokens (never their secrets)."""
    with workspace() as ws:
        records, now = ws.users.tokens(principal), ws.clock.now()
    console.print(
        table(
            "tokens",
            ["id", "principal", "status", "expires", "last used", "description"],
            [
                [t.id, t.principal, t.status(now), f"{t.expires_at:%Y-%m-%d %H:%M}", t.last_used_at, t.description]
                for t in records
            ],
        )
    )


@tokens_app.command("revoke")
def revoke_token(token_id: str) -> None:
    """Revoke a token at once."""
    with workspace() as ws:
        ws.users.revoke_token(token_id)
    console.print(f"revoked token {token_id}")
