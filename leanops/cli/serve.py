"""`leanops serve` (the model server), `leanops score` (batch scoring), `leanops deployments`."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leanops.cli.common import console, print_json, state, table, workspace

TRUST_HELP = "Extra class a skops model may build (module.Class); repeatable."


def register(root: typer.Typer) -> None:
    root.command()(serve)
    root.command()(score)
    root.command()(deployments)


def serve(
    name: str = typer.Argument(..., help="The model to serve."),
    zone: str = typer.Option("production", "--zone", help="Serve the version this zone's alias points to."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes (stateless replicas)."),
    trust: list[str] = typer.Option([], "--trust", help=TRUST_HELP),
) -> None:
    """Serve NAME's approved version in ZONE over HTTP; swaps versions when the alias moves."""
    import uvicorn

    endpoint = f"{host}:{port}"
    if workers == 1:
        from leanops.serving.server import build

        with workspace() as ws:
            app, live = build(name, zone, endpoint=endpoint, trusted=tuple(trust), workspace=ws)
            console.print(f"[green]Serving[/] {name} v{live.version} ({zone}) on http://{endpoint}")
            uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    with workspace() as ws:  # fail here, before any worker starts, if nothing may serve
        mv = ws.serving.resolve(name, zone)
        root = ws.settings.root
    os.environ |= {
        "LEANOPS_SERVE_MODEL": name,
        "LEANOPS_SERVE_ZONE": zone,
        "LEANOPS_SERVE_ENDPOINT": endpoint,
        "LEANOPS_SERVE_ROOT": str(root),
        "LEANOPS_SERVE_TRUST": ",".join(trust),
        **({"LEANOPS_TOKEN": state.token} if state.token else {}),
    }
    console.print(f"[green]Serving[/] {name} v{mv.version} ({zone}) on http://{endpoint} with {workers} workers")
    uvicorn.run(
        "leanops.serving.app:from_environment", factory=True, host=host, port=port, workers=workers, log_level="warning"
    )


def score(
    name: str = typer.Argument(..., help="The model to score with."),
    source: Path = typer.Argument(..., help="Input .parquet or .csv."),
    dest: Path = typer.Argument(..., help="Output .parquet or .csv: the input plus prediction columns."),
    zone: str = typer.Option("production", "--zone", help="Score with the version this zone serves."),
    executor: str = typer.Option("local", "--executor", help="local or ray."),
    chunk_rows: int | None = typer.Option(None, "--chunk-rows", min=1, help="Rows per chunk (serving.batch_rows)."),
    trust: list[str] = typer.Option([], "--trust", help=TRUST_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Score a file with the zone's approved version, in chunks; metered and logged like online traffic."""
    from leanops.serving.batch import score_file

    if executor not in ("local", "ray"):
        raise typer.BadParameter("use local or ray", param_hint="--executor")
    columns = (TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with workspace() as ws, Progress(*columns, console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("score", total=None)
        result = score_file(
            ws.serving,
            name,
            zone,
            source,
            dest,
            trusted=tuple(trust),
            chunk_rows=chunk_rows,
            executor=executor,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        return print_json(result.__dict__)
    console.print(
        f"[green]Scored[/] {result.rows} rows in {result.chunks} chunks with {name} v{result.version} "
        f"({result.zone}) → {result.output} in {result.seconds:.1f}s"
    )


def deployments(
    name: str | None = typer.Argument(None),
    zone: str | None = typer.Option(None, "--zone"),
    active: bool = typer.Option(False, "--active", help="Only deployments still serving."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who served which version where, from when to when, with how much traffic."""
    with workspace() as ws:
        found = ws.serving.deployments(name, zone=zone, active=True if active else None)
    if as_json:
        return print_json([d.model_dump(mode="json") for d in found])
    rows = [
        [
            d.name,
            d.version,
            d.zone,
            d.endpoint,
            d.started_by,
            f"{d.started_at:%Y-%m-%d %H:%M}",
            f"{d.stopped_at:%Y-%m-%d %H:%M}" if d.stopped_at else "serving",
            d.requests,
            d.stop_reason,
        ]
        for d in found
    ]
    console.print(
        table("Deployments", ["model", "v", "zone", "endpoint", "by", "started", "stopped", "requests", "why"], rows)
    )
