"""Budgets and costs: `leanops budget set/list/show/approve-overspend`, `leanops cost estimate/
report/unit/sync`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer

from leanops.cli.common import console, print_json, table, workspace
from leanops.cost.prices import show
from leanops.cost.reports import BY_CHOICES, Report, to_json, to_markdown
from leanops.errors import ValidationError

budget_app = typer.Typer(
    help="Monthly budgets per zone and project, with owners and alert thresholds.", no_args_is_help=True
)
app = typer.Typer(help="Costs: estimate a job, weekly and monthly reports, unit economics.", no_args_is_help=True)


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{text!r} is not an amount of money.", hint="Example: --monthly 50 or 49.90") from None
    if value < 0 or not value.is_finite():
        raise ValidationError(f"{text!r} is not an amount of money.", hint="Use a positive number.")
    return value


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}%"


@budget_app.command("set")
def budget_set(
    zone: str = typer.Option(..., "--zone", help="sandbox, staging or production."),
    monthly: str = typer.Option(..., "--monthly", help="Budget per calendar month."),
    owner: str = typer.Option(..., "--owner", help="Who is alerted at each threshold."),
    project: str | None = typer.Option(None, "--project", help="Only spend tagged with this project."),
    threshold: list[int] = typer.Option([], "--threshold", help="Alert at this % (repeatable; default 50 80 100)."),
) -> None:
    """Set or replace a monthly budget (admins only; audited)."""
    with workspace() as ws:
        budget = ws.cost.set_budget(zone, _amount(monthly), owner=owner, project=project, thresholds=threshold or None)
    console.print(
        f"budget {budget.key}: {show(budget.monthly)} {budget.currency}/month, owner {budget.owner}, "
        f"alerts at {', '.join(f'{t}%' for t in budget.thresholds)}"
    )


@budget_app.command("list")
def budget_list(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Every budget in force with this month's spend, forecast and room left."""
    with workspace() as ws:
        statuses = ws.cost.list_budgets()
    if as_json:
        return print_json([s.model_dump(mode="json") for s in statuses])
    rows = [
        [
            s.budget.key,
            show(s.budget.monthly),
            s.budget.owner,
            show(s.spent),
            _pct(s.percent),
            "" if s.forecast is None else f"{show(s.forecast)} ({_pct(s.forecast_percent)})",
            show(s.left),
            "hard" if s.hard_ceiling else "approval",
            s.budget.origin,
        ]
        for s in statuses
    ]
    console.print(
        table(
            f"budgets ({statuses[0].period if statuses else 'none set'})",
            ["budget", "monthly", "owner", "spent", "%", "forecast", "left", "ceiling", "from"],
            rows,
        )
    )


@budget_app.command("show")
def budget_show(
    zone: str = typer.Option(..., "--zone", help="sandbox, staging or production."),
    project: str | None = typer.Option(None, "--project", help="The project budget, not the whole zone's."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """One budget: spend, forecast, alerts fired and overspends approved this month."""
    with workspace() as ws:
        s = ws.cost.show_budget(zone, project)
    if as_json:
        return print_json(s.model_dump(mode="json"))
    c = s.budget.currency
    facts = [
        ["budget", s.budget.key],
        ["period", s.period],
        ["monthly", f"{show(s.budget.monthly)} {c}"],
        ["owner", s.budget.owner],
        ["spent", f"{show(s.spent)} {c} ({_pct(s.percent)})"],
        [
            "forecast",
            "too early in the month" if s.forecast is None else f"{show(s.forecast)} {c} ({_pct(s.forecast_percent)})",
        ],
        ["reserved by running jobs", f"{show(s.committed)} {c}"],
        ["left", f"{show(s.left)} {c}"],
        ["over budget", "refused (hard ceiling)" if s.hard_ceiling else "needs an approved overspend"],
    ]
    facts += [
        [f"alert {a['basis']} {a['percent']}%", f"{a['fired_at']:%Y-%m-%d %H:%M} at {show(a['value'])}"]
        for a in s.alerts
    ]
    facts += [["overspend", f"{show(o.amount)} by {o.approved_by}: {o.reason}"] for o in s.overspends]
    console.print(table(f"budget {s.budget.key}", ["field", "value"], facts))


@budget_app.command("approve-overspend")
def budget_overspend(
    zone: str = typer.Option(..., "--zone", help="A zone without a hard ceiling (production, staging)."),
    amount: str = typer.Option(..., "--amount", help="How much past the budget, this month."),
    reason: str = typer.Option(..., "--reason", help="Why the spend is worth it; kept in the audit log."),
    project: str | None = typer.Option(None, "--project", help="The project budget, not the whole zone's."),
) -> None:
    """Allow spend past a budget that does not stop work (approvers; audited with the reason)."""
    with workspace() as ws:
        o = ws.cost.approve_overspend(zone, _amount(amount), reason=reason, project=project)
    console.print(f"overspend of {show(o.amount)} approved on {o.budget} for {o.period} by {o.approved_by}")


@app.command()
def estimate(
    spec: str = typer.Argument(..., help="A job spec, e.g. jobs/train.yaml."),
    param: list[str] = typer.Option([], "--param", "-p", help="key=value override (repeatable)."),
    trials: int = typer.Option(1, "--trials", help="Sweep trials to reserve for."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """What a job would reserve (resources × deadline × price) and whether its budgets admit it."""
    with workspace() as ws:
        result = ws.cost.estimate(ws.jobs.load(spec).spec.with_params(param), trials=trials)
    if as_json:
        return print_json(result.model_dump(mode="json"))
    rows = [[k, f"{v:g}", show(result.breakdown.get(k, Decimal(0)))] for k, v in result.usage.nonzero().items()]
    rows.append(
        ["total" + (f" × {trials} trials" if trials > 1 else ""), "", f"{show(result.reserved)} {result.currency}"]
    )
    console.print(table(f"estimate: {result.job} in {result.zone}", ["quantity", "amount", "cost"], rows))
    console.print(("[green]admitted[/]: " if result.admitted else "[red]refused[/]: ") + result.reason, highlight=False)


@app.command()
def report(
    week: bool = typer.Option(False, "--week", help="The last 7 days against the 7 before (default)."),
    month: bool = typer.Option(False, "--month", help="The last 30 days against the 30 before."),
    by: str = typer.Option("owner", "--by", help=f"{', '.join(BY_CHOICES)} or tag:KEY."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, markdown or json."),
) -> None:
    """Spend, change against the previous period, top movers, idle endpoints, expired artifacts."""
    if week and month:
        raise ValidationError("Choose --week or --month, not both.")
    if fmt not in ("table", "markdown", "json"):
        raise ValidationError(f"Unknown format {fmt!r}.", hint="Use table, markdown or json.")
    with workspace() as ws:
        result = ws.cost.report("month" if month else "week", by=by)
    if fmt == "json":
        return print_json(to_json(result))
    if fmt == "markdown":
        return console.print(to_markdown(result), markup=False, highlight=False)
    _print_report(result)


def _print_report(r: Report) -> None:
    rows = [
        [
            x.group,
            show(x.amount),
            show(x.previous),
            ("+" if x.change > 0 else "") + show(x.change),
            "new" if x.change_pct is None else f"{x.change_pct:+.1f}%",
        ]
        for x in r.rows
    ]
    rows.append(
        [
            "total",
            show(r.total),
            show(r.previous_total),
            ("+" if r.change > 0 else "") + show(r.change),
            "new" if r.change_pct is None else f"{r.change_pct:+.1f}%",
        ]
    )
    console.print(
        table(f"cost by {r.by}, last {r.period} ({r.currency})", [r.by, "spend", "previous", "change", "%"], rows)
    )
    if r.movers:
        console.print(
            "top movers: " + ", ".join(f"{m.group} {'+' if m.change > 0 else ''}{show(m.change)}" for m in r.movers)
        )
    for e in r.idle_endpoints:
        console.print(
            f"underused endpoint: {e.endpoint} ({e.model or 'no model'}) cost {show(e.cost)} for {e.requests} "
            "predictions; consider stopping it"
        )
    for a in r.expired_artifacts:
        console.print(
            f"past TTL: {a.owner} {a.name} ({a.size:,} bytes, expired {a.expired_at:%Y-%m-%d}); `leanops gc --apply`"
        )
    if r.untagged.entries:
        console.print(
            f"untagged: {r.untagged.entries} entries, {show(r.untagged.amount)} {r.currency} "
            f"(missing {', '.join(sorted(r.untagged.missing))})"
        )


@app.command()
def unit(
    name: str = typer.Argument(..., help="A model name."),
    zone: str = typer.Option("production", "--deploy-zone", help="Promotions into this zone count as deployments."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Cost per training run, per successful deployment, per 1,000 predictions, per incident avoided."""
    with workspace() as ws:
        u = ws.cost.unit(name, zone=zone)
    if as_json:
        return print_json(u.model_dump(mode="json"))
    c = u.currency

    def cell(value: Decimal | None, missing: str) -> str:
        return missing if value is None else f"{show(value)} {c}"

    rows = [
        [
            "per training run",
            cell(u.cost_per_training_run, "no training runs yet"),
            f"{u.training_runs} runs, {show(u.training_cost)} {c}",
        ],
        [
            "per successful deployment",
            cell(u.cost_per_deployment, "no successful deployments yet"),
            f"{len(u.deployments)} deployments (training + evaluation since the previous one)",
        ],
        [
            "per 1,000 predictions",
            cell(u.cost_per_1k_predictions, "no predictions yet"),
            f"{u.predictions:,} predictions, {show(u.serving_cost)} {c}",
        ],
        [
            "per incident avoided",
            cell(u.cost_per_incident_avoided, "no incidents caught yet"),
            f"{u.incidents} incidents, monitoring {show(u.monitoring_cost)} {c}",
        ],
    ]
    console.print(table(f"unit economics: {u.model} (total {show(u.total)} {c})", ["cost", "value", "from"], rows))


@app.command()
def sync() -> None:
    """Charge what is not in the ledger yet, alert crossed thresholds, enforce the sandbox ceiling (cron-safe)."""
    with workspace() as ws:
        result = ws.cost.sync()
    console.print(
        f"charged {result.attempts} job attempt(s) and {result.storage} stored day(s); "
        f"{len(result.crossings)} threshold(s) crossed; {len(result.stopped)} job(s) stopped"
    )
