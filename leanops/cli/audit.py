"""The audit log: tail, query, verify, export."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from leanops.audit import AuditFilter, AuditRecord
from leanops.cli.common import console, table, workspace
from leanops.errors import ValidationError
from leanops.governance import parse_duration

app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)


def _since(value: str | None) -> datetime | None:
    """'2h' means two hours ago; otherwise an ISO timestamp."""
    if not value:
        return None
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValidationError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"--since {value!r} is neither a duration nor an ISO time.", hint="Use 2h, 7d or 2026-01-31T12:00."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _show(records: list[AuditRecord]) -> None:
    console.print(
        table(
            "audit",
            ["seq", "at", "actor", "action", "resource", "zone", "decision", "policies"],
            [
                [
                    r.seq,
                    f"{r.at:%Y-%m-%d %H:%M:%S}",
                    r.actor,
                    r.action,
                    r.resource,
                    r.zone,
                    r.decision,
                    ", ".join(r.policy_ids),
                ]
                for r in records
            ],
        )
    )


@app.command()
def tail(n: int = typer.Option(20, "-n", help="How many records.")) -> None:
    """The newest records."""
    with workspace() as ws:
        _show(ws.audit.tail(n))


@app.command()
def query(
    actor: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    since: str | None = typer.Option(None, help="2h, 7d or an ISO time."),
    decision: str | None = typer.Option(None, help="allow or deny."),
    limit: int = 200,
) -> None:
    """Filter records (* wildcards in actor, action and resource)."""
    with workspace() as ws:
        _show(
            ws.audit.query(
                AuditFilter(
                    actor=actor, action=action, resource=resource, since=_since(since), decision=decision, limit=limit
                )
            )
        )


@app.command()
def verify() -> None:
    """Walk the hash chain; name the first record that was edited, deleted, inserted or moved."""
    with workspace() as ws:
        report = ws.audit.verify()
    if report.ok:
        console.print(f"[green]audit chain intact[/]: {report.checked} records")
        return
    console.print(f"[red]audit chain broken at seq {report.first_bad_seq}[/]: {report.reason}")
    raise typer.Exit(8)


@app.command()
def export(out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: stdout).")) -> None:
    """Export every record as JSON Lines."""
    with workspace() as ws:
        if out is None:
            ws.audit.export(sys.stdout)
            return
        tmp = out.with_suffix(out.suffix + ".tmp")
        with tmp.open("w") as fh:
            count = ws.audit.export(fh)
        tmp.replace(out)
    console.print(f"wrote {count} records to {out}")
