"""Tracked runs: list and filter, show, compare side by side, validate required metadata."""

from __future__ import annotations

from typing import Any

import typer

from leanops.cli.common import console, print_json, table, workspace
from leanops.runs.models import RunStatus, param_filter

app = typer.Typer(help="Tracked runs: list, show, compare and validate.", no_args_is_help=True)

LIST_COLUMNS = ["run_id", "status", "owner", "purpose", "start_time"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "strftime"):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return "" if value != value else str(value)  # NaN from pandas stays blank


@app.command("list")
def list_runs(
    param: list[str] = typer.Option([], "--param", "-p", help="lr=0.01 or lr>=0.01 (repeatable)."),
    metric: list[str] = typer.Option([], "--metric", "-m", help="auc>0.8 (repeatable)."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="team=growth (repeatable)."),
    status: RunStatus | None = typer.Option(None, "--status", help="Only runs in this state."),
    owner: str | None = typer.Option(None, "--owner", help="Only runs this user started."),
    dataset: str | None = typer.Option(None, "--dataset", help="Snapshot id, name@vN or name."),
    sort: str | None = typer.Option(None, "--sort", help="metrics.X, params.X, tags.X, start_time, …"),
    desc: bool = typer.Option(False, "--desc", help="Sort descending."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many runs."),
    wide: bool = typer.Option(False, "--wide", help="Show every param column, not only filtered or sorted ones."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per run, with every column."),
) -> None:
    """Find runs by params, metrics (latest value), tags, status, owner and dataset."""
    with workspace() as ws:
        frame = ws.runs.search(
            params=param,
            metrics=metric,
            tags=tag,
            status=status,
            owner=owner,
            dataset=dataset,
            sort=sort,
            descending=desc,
            limit=limit,
        )
    if as_json:
        return print_json(frame.to_dict(orient="records"))
    named = {f"params.{param_filter(p).key}" for p in param} | {sort or ""}
    shown = LIST_COLUMNS + [c for c in frame.columns if c.startswith("metrics.")]
    shown += [c for c in frame.columns if c.startswith("params.") and (wide or c in named)]
    rows = [
        [_cell(v) if c != "run_id" else str(v)[:12] for c, v in zip(shown, r, strict=True)]
        for r in frame[shown].itertuples(index=False)
    ]
    console.print(table(f"runs ({len(frame)})", shown, rows))


@app.command()
def show(
    run_id: str = typer.Argument(..., help="The run's id."),
    as_json: bool = typer.Option(False, "--json", help="The whole record as JSON."),
) -> None:
    """Everything recorded about one run."""
    with workspace() as ws:
        record = ws.runs.get(run_id)
    if as_json:
        return print_json(record.model_dump(mode="json"))
    env = record.environment
    facts = [
        ["run", record.id],
        ["status", record.status],
        ["owner", record.owner],
        ["purpose", record.purpose],
        ["zone", record.zone],
        ["approval", record.approval],
        ["start", _cell(record.start_time)],
        ["end", _cell(record.end_time)],
        ["code", f"{record.code.commit or '-'}{' (dirty)' if record.code.dirty else ''} {record.code.remote or ''}"],
        ["datasets", ", ".join(d.ref or d.id for d in record.datasets)],
        ["data class", record.data_class],
        ["features", ", ".join(record.features)],
        [
            "environment",
            f"Python {env.python}, {env.packages_count} packages ({env.packages_hash[:12]})" if env else "",
        ],
        ["missing", ", ".join(record.missing)],
    ]
    facts += [[f"param {k}", v] for k, v in record.params.items()]
    facts += [[f"metric {k}", _cell(v)] for k, v in record.metrics.items()]
    facts += [[f"tag {k}", v] for k, v in record.tags.items()]
    facts += [["artifact", name] for name in record.artifacts]
    console.print(table(f"run {record.id}", ["field", "value"], facts))


@app.command()
def compare(run_ids: list[str] = typer.Argument(..., help="Two or more run ids.")) -> None:
    """Runs side by side: one column each; rows that differ are highlighted."""
    with workspace() as ws:
        frame = ws.runs.compare(run_ids)
    rows = []
    for field, values in frame.iterrows():
        cells = [_cell(v) for v in values]
        mark = "[bold yellow]" if len(set(cells)) > 1 else ""
        rows.append([f"{mark}{field}", *cells])
    console.print(table("compare", ["field", *(r[:12] for r in frame.columns)], rows))


@app.command()
def validate(
    run_id: str = typer.Argument(..., help="The run's id."),
    as_json: bool = typer.Option(False, "--json", help="Required and missing fields as JSON."),
) -> None:
    """Check a run against the required metadata schema; exit 3 if anything is missing."""
    with workspace() as ws:
        result = ws.runs.validate(run_id)
    if as_json:
        print_json({**result.model_dump(mode="json"), "complete": result.complete})
    elif result.complete:
        console.print(
            f"[green]run {run_id} carries every required field[/] ({len(result.required)}); status {result.status}"
        )
    else:
        console.print(f"[red]run {run_id} is missing required metadata[/]: {', '.join(result.missing)}")
    if not result.complete:
        raise typer.Exit(3)
