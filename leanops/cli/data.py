"""Datasets: register, list, show, diff and check out validated snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from leanops.cli.common import console, print_json, table, workspace

if TYPE_CHECKING:
    from leanops.datasets import DatasetDiff, Snapshot

app = typer.Typer(help="Versioned, validated, classified dataset snapshots.", no_args_is_help=True)


@app.command()
def register(
    path: Path = typer.Argument(..., help="A CSV or Parquet file, or a folder of files."),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name; new content becomes its next version."),
    contract: Path | None = typer.Option(None, "--contract", "-c", help="Data contract (YAML) the data must keep."),
    data_class: str | None = typer.Option(None, "--class", help="public, internal (default) or sensitive."),
    source: str | None = typer.Option(None, "--source", help="Where the data came from (default: file://<path>)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate, profile and store PATH as the next version of a dataset."""
    with workspace() as ws:
        started = ws.clock.now()
        snap = ws.datasets.register(path, name=name, contract=contract, data_class=data_class, source=source)
    if as_json:
        return print_json(snap.model_dump(mode="json"))
    rows = f"{snap.rows} rows, " if snap.rows is not None else ""
    known = " [dim](already registered: same content, no new version)[/]" if snap.created_at < started else ""
    console.print(
        f"[green]{snap.ref}[/] snapshot {snap.id[:12]} ({rows}{len(snap.files)} file(s), "
        f"{_size(snap.size)}, {snap.data_class}){known}",
        highlight=False,
    )


@app.command("list")
def list_datasets(
    name: str | None = typer.Option(None, "--name", "-n", help="Only this dataset's versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every dataset version with its snapshot id, size and data class."""
    with workspace() as ws:
        snaps = ws.datasets.list(name)
    if as_json:
        return print_json([s.model_dump(mode="json", exclude={"files", "profile", "contract"}) for s in snaps])
    console.print(
        table(
            "datasets",
            ["dataset", "snapshot", "format", "rows", "size", "class", "created", "by"],
            [
                [
                    s.ref,
                    s.id[:12],
                    s.format,
                    s.rows,
                    _size(s.size),
                    s.data_class,
                    f"{s.created_at:%Y-%m-%d %H:%M}",
                    s.created_by,
                ]
                for s in snaps
            ],
        )
    )


@app.command()
def show(
    ref: str = typer.Argument(..., help="name, name@vN or a snapshot id (or its first 8+ characters)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A snapshot: where it came from, its files and its column profile."""
    with workspace() as ws:
        snap = ws.datasets.get(ref)
    if as_json:
        return print_json(snap.model_dump(mode="json"))
    console.print(table(snap.ref, ["", ""], _summary(snap)))
    if snap.profile is not None:
        console.print(
            table(
                "columns",
                ["column", "dtype", "nulls", "distinct", "min", "mean", "max", "top values"],
                [_column_row(c) for c in snap.profile.columns],
            )
        )
    else:
        files = [[f.path, f.digest[:12], _size(f.size)] for f in snap.files]
        console.print(table("files", ["path", "sha256", "size"], files))


@app.command()
def diff(
    a: str = typer.Argument(..., help="The older snapshot (name@vN, name or id)."),
    b: str = typer.Argument(..., help="The newer snapshot."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Schema and profile differences from A to B."""
    with workspace() as ws:
        result = ws.datasets.diff(a, b)
    if as_json:
        return print_json(result.model_dump(mode="json"))
    _print_diff(result)


@app.command()
def checkout(
    ref: str = typer.Argument(..., help="name, name@vN or a snapshot id."),
    dest: Path = typer.Argument(..., help="An empty or new folder."),
) -> None:
    """Write a snapshot's files, hash-verified, into DEST."""
    with workspace() as ws:
        folder = ws.datasets.checkout(ref, dest)
    console.print(f"checked out {ref} into {folder}")


# -- formatting ---------------------------------------------------------------------------


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _summary(snap: Snapshot) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["snapshot", snap.id],
        ["format", f"{snap.format} ({snap.kind})"],
        ["rows", snap.rows],
        ["files", len(snap.files)],
        ["size", _size(snap.size)],
        ["class", snap.data_class],
        ["source", snap.source],
        ["created", f"{snap.created_at:%Y-%m-%d %H:%M} by {snap.created_by} in {snap.zone}"],
        ["contract", f"{len(snap.contract.columns)} column rule(s)" if snap.contract else "none"],
    ]
    return [r for r in rows if r[1] is not None]


def _column_row(c: Any) -> list[Any]:
    if c.kind == "datetime":
        low, mean, high = c.first, "", c.last
    else:
        low, mean, high = _num(c.min), _num(c.mean), _num(c.max)
    top = ", ".join(f"{t.value} ({t.frequency:.0%})" for t in c.top[:3])
    return [c.name, c.dtype, f"{c.null_rate:.1%}", c.distinct, low, mean, high, top]


def _print_diff(result: DatasetDiff) -> None:
    same = ": [green]identical content[/]" if result.identical else ""
    console.print(f"{result.a} ({result.a_id[:12]}) → {result.b} ({result.b_id[:12]}){same}", highlight=False)
    files = (
        [[f, "added"] for f in result.files_added]
        + [[f, "removed"] for f in result.files_removed]
        + [[f, "changed"] for f in result.files_changed]
    )
    if files and (result.profile is None or result.files_added or result.files_removed):
        console.print(table("files", ["path", "change"], files))
    p = result.profile
    if p is None:
        return
    schema = (
        [[c, "added", "", ""] for c in p.added]
        + [[c, "removed", "", ""] for c in p.removed]
        + [[d.column, "dtype", d.a, d.b] for d in p.dtype_changes]
    )
    console.print(table("schema", ["column", "change", "a", "b"], schema) if schema else "schema: [green]unchanged[/]")
    moved = [c for c in p.columns if c.changed]
    rows = [["(rows)", f"{p.rows_a} → {p.rows_b} ({p.rows_b - p.rows_a:+d})", "", ""]] + [
        [c.column, f"{c.null_rate_a:.1%} → {c.null_rate_b:.1%}", _num(c.mean_a), _num(c.mean_b)] for c in moved
    ]
    console.print(table("profile", ["column", "rows / null rate", "mean a", "mean b"], rows))
    if len(moved) < len(p.columns):
        console.print(f"{len(p.columns) - len(moved)} shared column(s) unchanged in null rate and mean")
