"""Cost reports: pure aggregation over ledger entries, rendered as Markdown or JSON.

    report = build_report(this_week, last_week, by="owner", ...)
    to_markdown(report)

Windows are whole UTC days ending with today: a week is the last 7 days, compared with the 7
days before; a month the last 30 days, compared with the 30 before. Every figure is a sum of ledger amounts, so the
report's total is exactly what the ledger holds for the window.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from leanops.cost.ledger import TAG_KEYS, CostKind, LedgerEntry
from leanops.cost.prices import money, show
from leanops.errors import ValidationError

PERIOD_DAYS = {"week": 7, "month": 30}
BY_CHOICES = (*TAG_KEYS, "kind")
NONE = "(none)"


class Window(BaseModel):
    start: datetime
    end: datetime


def windows(period: Literal["week", "month"], now: datetime) -> tuple[Window, Window]:
    """The last 7 (or 30) UTC days, today included, and as many days just before them."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    days = timedelta(days=PERIOD_DAYS[period])
    return Window(start=end - days, end=end), Window(start=end - 2 * days, end=end - days)


def check_by(by: str) -> str:
    """A grouping: a ledger tag (owner, model, zone, …), `kind`, or `tag:KEY` for any other tag."""
    if by in BY_CHOICES or (by.startswith("tag:") and len(by) > 4):
        return by
    raise ValidationError(f"Cannot group costs by {by!r}.", hint=f"Use one of {', '.join(BY_CHOICES)} or tag:KEY.")


def group_of(entry: LedgerEntry, by: str) -> str:
    if by == "kind":
        return str(entry.kind)
    key = by.removeprefix("tag:")
    return entry.tags.get(key) or NONE


class Row(BaseModel):
    group: str
    amount: Decimal
    previous: Decimal
    change: Decimal
    change_pct: float | None = Field(None, description="None when the previous amount was zero")


class IdleEndpoint(BaseModel):
    """An endpoint whose uptime cost bought little traffic: a candidate to stop (the seed: kill
    an underused endpoint after one week)."""

    endpoint: str
    model: str
    cost: Decimal
    requests: int = 0


class ExpiredArtifact(BaseModel):
    """A blob still stored after its TTL: `leanops gc` would remove it."""

    name: str
    owner: str
    zone: str
    size: int
    expired_at: datetime
    monthly_cost: Decimal


class Untagged(BaseModel):
    entries: int = 0
    amount: Decimal = Decimal(0)
    missing: dict[str, int] = Field(default_factory=dict)


class Report(BaseModel):
    period: str
    by: str
    currency: str
    window: Window
    previous_window: Window
    total: Decimal
    previous_total: Decimal
    change: Decimal
    change_pct: float | None
    entries: int
    rows: list[Row]
    movers: list[Row]
    idle_endpoints: list[IdleEndpoint] = Field(default_factory=list)
    expired_artifacts: list[ExpiredArtifact] = Field(default_factory=list)
    untagged: Untagged = Field(default_factory=Untagged)


def _pct(now: Decimal, before: Decimal) -> float | None:
    return None if before == 0 else round(float((now - before) * 100 / before), 1)


def totals(entries: Iterable[LedgerEntry], by: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: Decimal(0))
    for entry in entries:
        out[group_of(entry, by)] += entry.amount
    return dict(out)


UNDERUSED_REQUESTS = 100  # predictions per report window below which an endpoint is flagged


def idle_endpoints(entries: Iterable[LedgerEntry], *, under: int = UNDERUSED_REQUESTS) -> list[IdleEndpoint]:
    """Endpoints that cost uptime in the window and served fewer than `under` predictions."""
    cost: dict[str, Decimal] = defaultdict(lambda: Decimal(0))
    model: dict[str, str] = {}
    served: dict[str, float] = defaultdict(float)
    for entry in entries:
        endpoint = entry.tags.get("endpoint") or entry.refs.get("endpoint")
        if not endpoint:
            continue
        if entry.kind is CostKind.SERVING:
            cost[endpoint] += entry.amount
            model[endpoint] = entry.tags.get("model", "")
        served[endpoint] += entry.usage.requests
    return [
        IdleEndpoint(endpoint=e, model=model[e], cost=money(c), requests=int(served[e]))
        for e, c in sorted(cost.items())
        if served[e] < under
    ]


def build_report(
    current: list[LedgerEntry],
    previous: list[LedgerEntry],
    *,
    period: str,
    by: str,
    currency: str,
    window: Window,
    previous_window: Window,
    expired: list[ExpiredArtifact] = (),  # type: ignore[assignment]
    top: int = 5,
) -> Report:
    """Spend per group in the window, its change against the previous one, and what to look at."""
    by = check_by(by)
    now, before = totals(current, by), totals(previous, by)
    rows = [
        Row(
            group=g,
            amount=money(now.get(g, 0)),
            previous=money(before.get(g, 0)),
            change=money(now.get(g, Decimal(0)) - before.get(g, Decimal(0))),
            change_pct=_pct(now.get(g, Decimal(0)), before.get(g, Decimal(0))),
        )
        for g in sorted(set(now) | set(before))
    ]
    rows.sort(key=lambda r: (-r.amount, r.group))
    movers = sorted((r for r in rows if r.change != 0), key=lambda r: (-abs(r.change), r.group))[:top]
    total = money(sum((e.amount for e in current), Decimal(0)))
    previous_total = money(sum((e.amount for e in previous), Decimal(0)))
    untagged = Untagged()
    for entry in current:
        if entry.untagged:
            untagged.entries += 1
            untagged.amount += entry.amount
            for key in entry.untagged:
                untagged.missing[key] = untagged.missing.get(key, 0) + 1
    untagged.amount = money(untagged.amount)
    return Report(
        period=period,
        by=by,
        currency=currency,
        window=window,
        previous_window=previous_window,
        total=total,
        previous_total=previous_total,
        change=money(total - previous_total),
        change_pct=_pct(total, previous_total),
        entries=len(current),
        rows=rows,
        movers=movers,
        idle_endpoints=idle_endpoints(current),
        expired_artifacts=list(expired),
        untagged=untagged,
    )


def _signed(value: Decimal) -> str:
    return f"+{show(value)}" if value > 0 else show(value)


def _pct_text(value: float | None) -> str:
    return "new" if value is None else f"{value:+.1f}%"


def to_markdown(report: Report) -> str:
    """The report as Markdown, for a weekly review note or a pull request."""
    c = report.currency
    lines = [
        f"# Cost report: {report.window.start:%Y-%m-%d} to {report.window.end - timedelta(days=1):%Y-%m-%d}",
        "",
        f"Spend **{show(report.total)} {c}** ({_signed(report.change)} {c}, "
        f"{_pct_text(report.change_pct)} against the previous {report.period}: {show(report.previous_total)} {c}).",
        "",
        f"| {report.by} | spend | previous | change |",
        "|---|---:|---:|---:|",
        *[
            f"| {r.group} | {show(r.amount)} | {show(r.previous)} | {_signed(r.change)} ({_pct_text(r.change_pct)}) |"
            for r in report.rows
        ],
        "",
    ]
    if report.movers:
        lines += ["## Top movers", "", *[f"- {r.group}: {_signed(r.change)} {c}" for r in report.movers], ""]
    if report.idle_endpoints:
        lines += [
            f"## Underused endpoints (fewer than {UNDERUSED_REQUESTS} predictions): consider stopping them",
            "",
            *[
                f"- {e.endpoint} ({e.model or 'no model'}): {show(e.cost)} {c} for {e.requests} predictions"
                for e in report.idle_endpoints
            ],
            "",
        ]
    if report.expired_artifacts:
        lines += [
            "## Artifacts kept past their TTL",
            "",
            *[
                f"- {a.owner} {a.name} ({a.size:,} bytes, expired {a.expired_at:%Y-%m-%d}): "
                f"{a.monthly_cost:.4f} {c}/month"
                for a in report.expired_artifacts
            ],
            "",
            "Run `leanops gc --apply` to remove them.",
            "",
        ]
    if report.untagged.entries:
        missing = ", ".join(f"{k} ({n})" for k, n in sorted(report.untagged.missing.items()))
        lines += [
            "## Untagged spend",
            "",
            f"{report.untagged.entries} entries, {show(report.untagged.amount)} {c}, missing: {missing}.",
            "",
        ]
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON types (money as strings, so no precision is lost)."""
    return json.loads(report.model_dump_json())
