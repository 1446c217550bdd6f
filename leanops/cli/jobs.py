"""Training jobs: run a spec, sweep it, list, show, logs, cancel; and `leanops gc`."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leanops.cli.common import console, print_json, table, workspace
from leanops.jobs.models import JobRecord, JobStatus

app = typer.Typer(help="Training jobs from specs in git: deadlines, retries, teardown.", no_args_is_help=True)

# A job that ran but did not succeed exits non-zero, like the program it ran would.
EXIT_CODES = {
    JobStatus.SUCCEEDED: 0,
    JobStatus.FAILED: 1,
    JobStatus.LOST: 1,
    JobStatus.TIMED_OUT: 124,
    JobStatus.CANCELLED: 130,
}
STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "lost": "red",
    "running": "cyan",
    "transient": "yellow",
}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs")
    root.command("gc")(gc)


def _say(job: JobRecord, kind: str, data: dict[str, Any]) -> None:
    """Live progress of a job on the terminal."""
    tag = f"[dim]{job.name} {job.id[:8]}[/]"
    if kind == "start":
        console.print(f"{tag} started (run {str(data.get('run_id'))[:12]})", highlight=False)
    elif kind == "attempt":
        console.print(f"{tag} attempt {data['attempt']} running", highlight=False)
    elif kind == "attempt_end":
        style = STYLE.get(data["cause"], "white")
        console.print(
            f"{tag} attempt {data['attempt']}: [{style}]{data['cause']}[/] ({data['detail']})", highlight=False
        )
    elif kind == "retry":
        console.print(f"{tag} retrying in {data['wait']}s", highlight=False)
    elif kind == "stopping":
        console.print(
            f"{tag} stopping ({data['reason']}): SIGTERM, {data['grace']}s grace, then SIGKILL", highlight=False
        )


def _status(status: str) -> str:
    return f"[{STYLE.get(status, 'white')}]{status}[/]"


@app.command()
def run(
    spec: str = typer.Argument(..., help="The job spec, e.g. jobs/train.yaml."),
    param: list[str] = typer.Option([], "--param", "-p", help="Override a param: -p lr=0.01 (repeatable)."),
    allow_dirty: bool = typer.Option(
        False, "--allow-dirty", help="Run from uncommitted code (the run is then not promotable)."
    ),
    executor: str | None = typer.Option(None, "--executor", "-e", help="local or ray (default: jobs.executor)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final record as JSON."),
) -> None:
    """Run a job to its end under its deadline and retry policy; exit 0 only if it succeeded."""
    with workspace() as ws:
        if not as_json:
            ws.jobs.on_event = _say
        job = ws.jobs.run(spec, param, allow_dirty=allow_dirty, executor=executor)
    if as_json:
        print_json(job.model_dump(mode="json"))
    else:
        console.print(f"job [bold]{job.id}[/] {_status(job.status)}: {job.reason}", highlight=False)
        if job.metrics:
            console.print("metrics  " + "  ".join(f"{k}={v:.6g}" for k, v in job.metrics.items()), highlight=False)
    raise typer.Exit(EXIT_CODES.get(job.status, 1))


@app.command("list")
def list_jobs(
    status: str | None = typer.Option(
        None, "--status", help="queued, running, succeeded, failed, timed_out, cancelled, lost."
    ),
    owner: str | None = typer.Option(None, "--owner"),
    name: str | None = typer.Option(None, "--name"),
    sweep: str | None = typer.Option(None, "--sweep", help="Only the trials of this sweep."),
    limit: int = typer.Option(50, "--limit", "-n"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Jobs, newest first."""
    with workspace() as ws:
        jobs = ws.jobs.list(status=status, owner=owner, name=name, sweep_id=sweep, limit=limit)
    if as_json:
        return print_json([j.model_dump(mode="json") for j in jobs])
    rows = [
        [
            j.id[:12],
            j.name,
            _status(j.status),
            j.owner,
            j.zone,
            j.attempts,
            f"{j.created_at:%Y-%m-%d %H:%M:%S}",
            (j.run_id or "")[:12],
            j.reason[:60],
        ]
        for j in jobs
    ]
    console.print(
        table(
            f"jobs ({len(jobs)})",
            ["id", "name", "status", "owner", "zone", "attempts", "created", "run", "reason"],
            rows,
        )
    )


@app.command()
def show(job_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A job, its provenance and each attempt with its cause and metering."""
    with workspace() as ws:
        job = ws.jobs.get(job_id)
    if as_json:
        return print_json(job.model_dump(mode="json"))
    facts = [
        ["id", job.id],
        ["name", job.name],
        ["status", _status(job.status)],
        ["reason", job.reason],
        ["owner", job.owner],
        ["submitted by", job.submitted_by],
        ["zone", job.zone],
        ["executor", job.executor],
        ["spec", f"{job.spec_path} @ {(job.spec_commit or 'uncommitted')[:12]}"],
        ["code", f"{(job.code_commit or 'no git')[:12]}{' (dirty)' if job.code_dirty else ''}"],
        ["promotable", "yes" if job.promotable else "no"],
        ["run", job.run_id or ""],
        ["params", ", ".join(f"{k}={v}" for k, v in job.params.items())],
        ["datasets", ", ".join(job.datasets)],
        ["deadline", f"{job.deadline_seconds:g}s"],
        ["resources", ", ".join(f"{k}={v}" for k, v in job.resources.items())],
        ["tags", ", ".join(f"{k}={v}" for k, v in job.tags.items())],
        ["metrics", ", ".join(f"{k}={v:.6g}" for k, v in job.metrics.items())],
    ]
    console.print(table(f"job {job.id[:12]}", ["", ""], facts))
    rows = [
        [
            a.n,
            _status(a.status),
            a.cause,
            f"{a.metering.wall_seconds:.2f}",
            f"{a.metering.cpu_seconds:.2f}",
            f"{a.metering.peak_rss_bytes / 2**20:.1f}",
            "" if a.start_latency_seconds is None else f"{a.start_latency_seconds * 1000:.0f}",
            a.host,
        ]
        for a in job.attempt_records
    ]
    console.print(table("attempts", ["n", "status", "cause", "wall s", "cpu s", "peak MiB", "start ms", "host"], rows))


@app.command()
def logs(
    job_id: str, attempt: int | None = typer.Option(None, "--attempt", "-a", help="Default: the last one.")
) -> None:
    """An attempt's output: live while it runs, from the artifact store after (until its TTL)."""
    with workspace() as ws:
        text = ws.jobs.logs(job_id, attempt)
    console.out(text, end="", highlight=False)


@app.command()
def cancel(job_id: str) -> None:
    """Stop a running job: SIGTERM, its grace period, then SIGKILL; recorded as cancelled."""
    with workspace() as ws:
        job = ws.jobs.cancel(job_id)
    console.print(f"cancel requested for job {job.id[:12]} ({_status(job.status)})", highlight=False)


@app.command()
def sweep(
    spec: str = typer.Argument(..., help="The job spec to fan out."),
    grid: list[str] = typer.Option([], "--grid", "-g", help="lr=0.01,0.1 (repeatable; every combination)."),
    random_n: int = typer.Option(0, "--random", help="Random search: this many trials drawn from --space."),
    space: list[str] = typer.Option([], "--space", help="lr=loguniform:1e-4:1e-1, depth=int:2:8, opt=choice:a,b."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the random search."),
    parallel: int = typer.Option(2, "--parallel", help="Trials at once (capped by the zone's quota)."),
    metric: str | None = typer.Option(None, "--metric", "-m", help="Rank trials by this metric."),
    minimize: bool = typer.Option(False, "--minimize", help="Lower is better."),
    top: int = typer.Option(5, "--top", help="How many best trials to show."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty"),
    executor: str | None = typer.Option(None, "--executor", "-e"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run a spec over a grid or a random search, each trial a tracked job; show the best."""
    from leanops.jobs.sweep import grid as make_grid
    from leanops.jobs.sweep import random_trials

    trials = make_grid(grid) if grid else random_trials(space, random_n, seed)
    with (
        workspace() as ws,
        Progress(
            TextColumn("[bold]sweep[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        task = progress.add_task("", total=len(trials))

        def done(trial: Any) -> None:
            progress.update(task, advance=1, description=f"last: {trial.status} {trial.params}")

        result = ws.jobs.sweep(
            spec,
            trials,
            parallel=parallel,
            metric=metric,
            maximize=not minimize,
            executor=executor,
            allow_dirty=allow_dirty,
            on_trial=done,
        )
    if as_json:
        return print_json(result.model_dump(mode="json") | {"best": [t.model_dump() for t in result.best(top)]})
    console.print(f"sweep [bold]{result.sweep_id}[/]: " + ", ".join(f"{n} {s}" for s, n in result.counts.items()))
    metrics = sorted({k for t in result.trials for k in t.metrics})
    rows = [
        [
            t.index,
            (t.job_id or "")[:12],
            _status(t.status),
            ", ".join(f"{k}={v}" for k, v in t.params.items()),
            *[f"{t.metrics[m]:.6g}" if m in t.metrics else "" for m in metrics],
        ]
        for t in result.best(top)
    ]
    title = f"best {len(rows)} by {metric} ({'min' if minimize else 'max'})" if metric else "succeeded trials"
    console.print(table(title, ["trial", "job", "status", "params", *metrics], rows))


def gc(
    apply: bool = typer.Option(False, "--apply", help="Remove them (default: a dry run that only lists)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Expired scratch artifacts and abandoned scratch folders: list them, or remove with --apply."""
    with workspace() as ws:
        report = ws.jobs.gc(apply=apply)
    if as_json:
        return print_json(report.model_dump(mode="json") | {"bytes": report.bytes})
    rows = [[i.kind, i.what, f"{i.bytes:,}"] for i in report.items]
    console.print(table("garbage" + ("" if apply else " (dry run)"), ["kind", "what", "bytes"], rows))
    verb = "freed" if apply else "would free"
    console.print(
        f"{verb} {report.bytes:,} bytes ({len(report.items)} item(s); {report.expired_refs} expired reference(s))"
        + (
            f"; closed {len(report.lost_jobs)} lost job(s); removed {report.temp_files} temp file(s)"
            if apply
            else "; run with --apply to remove them"
        ),
        highlight=False,
    )
