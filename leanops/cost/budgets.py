"""Monthly budgets with an owner, thresholds on actual and forecast spend, and their crossings.

    spent, forecast = Decimal("41"), forecast_linear(Decimal("41"), start, now, end)
    crossings(spent, forecast, budget, already_fired)   # the ones to alert now, each once

A budget covers one zone, optionally narrowed to one project tag. Periods are calendar months
in UTC. A crossing is (basis, percent); the store remembers the fired ones per period, so each
alerts its owner exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field, computed_field, field_validator

from leanops.cost.ledger import LedgerRepo
from leanops.cost.prices import money, show
from leanops.errors import ValidationError
from leanops.zones import Zone

DEFAULT_THRESHOLDS = (50, 80, 100)
MAX_MONTHLY = Decimal("1e12")  # beyond any real budget: a typo, not a plan


def budget_amount(value: Any, currency: str) -> Decimal:
    """A monthly budget: a finite amount from 0 up to MAX_MONTHLY (NaN, 1e30 and -5 are refused)."""
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite() or not Decimal(0) <= amount <= MAX_MONTHLY:
        raise ValidationError(
            f"{value!r} is not a monthly budget.",
            hint=f"Give an amount in {currency} between 0 and {MAX_MONTHLY:,.0f}, e.g. --monthly 500.",
        )
    return money(amount)


def check_thresholds(values: list[int]) -> list[int]:
    """Alert thresholds are whole percentages from 1 to 1000 (1000: ten times the budget)."""
    bad = [v for v in values if not 1 <= int(v) <= 1000]
    if bad:
        raise ValidationError(
            f"Threshold(s) {', '.join(map(str, bad))} out of range.",
            hint="Use percentages from 1 to 1000, e.g. 50 80 100.",
        )
    return sorted({int(v) for v in values})


class Basis(StrEnum):
    ACTUAL = "actual"
    FORECAST = "forecast"


class Budget(BaseModel):
    """A monthly budget for a zone (and optionally one project), owned by someone who is alerted."""

    zone: Zone
    project: str | None = Field(None, description="Only spend tagged with this project; None: the whole zone")
    monthly: Decimal = Field(ge=0)
    owner: str
    thresholds: list[int] = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    currency: str = "USD"
    updated_at: datetime | None = None
    updated_by: str = ""
    origin: str = Field("store", description="store (set with `leanops budget set`) or config (leanops.yaml)")

    @field_validator("monthly", mode="before")
    @classmethod
    def _money(cls, value: object) -> object:
        return money(value) if isinstance(value, int | float | str | Decimal) else value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[int]) -> list[int]:
        if any(t <= 0 for t in value):
            raise ValueError("thresholds are positive percentages, e.g. [50, 80, 100]")
        return sorted(set(value))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        return budget_key(self.zone, self.project)

    def covers(self, tags: Mapping[str, str]) -> bool:
        return tags.get("zone") == str(self.zone) and (self.project is None or tags.get("project") == self.project)


def budget_key(zone: Zone | str, project: str | None) -> str:
    return f"{Zone(zone)}/{project or '*'}"


class Crossing(BaseModel):
    """A threshold a budget's actual or forecast spend has reached."""

    budget: str
    basis: Basis
    percent: int
    value: Decimal = Field(description="The spend (actual or forecast) that crossed")
    limit: Decimal = Field(description="The monthly budget")


class Period(BaseModel):
    label: str
    start: datetime
    end: datetime


def month_of(now: datetime) -> Period:
    """The calendar month (UTC) holding `now`."""
    now = now.astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(label=f"{start:%Y-%m}", start=start, end=end)


def forecast_linear(spent: Decimal, period_start: datetime, now: datetime, period_end: datetime) -> Decimal:
    """Spend at period end if it goes on at the rate so far: spent × period ÷ elapsed.

    forecast_linear(Decimal(10), jan1, jan11, feb1) == Decimal("31.000000")
    """
    total = (period_end - period_start).total_seconds()
    elapsed = min(max((now - period_start).total_seconds(), 0.0), total)
    if elapsed <= 0:
        return money(spent)
    return money(Decimal(spent) * Decimal(repr(total)) / Decimal(repr(elapsed)))


def crossings(
    spent: Decimal, forecast: Decimal | None, budget: Budget, already_fired: Iterable[tuple[str, int]]
) -> list[Crossing]:
    """The thresholds actual (and forecast, if given) spend has reached that have not fired yet.

    A budget of zero is crossed by any spend at all. The forecast is passed as None while it is
    too early in the month to extrapolate (one expensive first hour is no trend).
    """
    fired = {(str(b), int(p)) for b, p in already_fired}
    out = []
    for basis, value in ((Basis.ACTUAL, spent), (Basis.FORECAST, forecast)):
        if value is None:
            continue
        for percent in budget.thresholds:
            if (str(basis), percent) in fired:
                continue
            if reached(value, budget.monthly, percent):
                out.append(
                    Crossing(budget=budget.key, basis=basis, percent=percent, value=money(value), limit=budget.monthly)
                )
    return out


def reached(value: Decimal, limit: Decimal, percent: int) -> bool:
    if limit <= 0:
        return value > 0
    return Decimal(value) * 100 >= Decimal(limit) * percent


def rearmed(
    spent: Decimal, forecast: Decimal | None, budget: Budget, fired: Iterable[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Fired crossings no longer reached under a changed budget: they may alert again."""
    values = {str(Basis.ACTUAL): spent, str(Basis.FORECAST): forecast}
    return [(b, p) for b, p in fired if values.get(b) is not None and not reached(values[b], budget.monthly, p)]  # type: ignore[arg-type]


def alert_text(budget: Budget, crossing: Crossing, period: str, *, hard_ceiling: bool) -> tuple[str, str, str]:
    """The (subject, body, severity) of the notice a crossing sends its budget's owner."""
    c = budget.currency
    if crossing.basis is Basis.ACTUAL:
        subject = f"Budget {budget.key} at {crossing.percent}% ({period})"
        body = f"Spent {show(crossing.value)} of {show(budget.monthly)} {c} this month."
    else:
        subject = f"Budget {budget.key} forecast at {crossing.percent}% ({period})"
        body = f"At this rate the month ends at {show(crossing.value)} of {show(budget.monthly)} {c}."
    if crossing.percent >= 100 and crossing.basis is Basis.ACTUAL:
        body += (
            " New jobs are refused and running ones stopped until the budget is raised."
            if hard_ceiling
            else " Work goes on; further jobs need an approved overspend."
        )
    return subject, body, "error" if crossing.percent >= 100 else "warning"


def percent_of(value: Decimal, limit: Decimal) -> float | None:
    return None if limit <= 0 else float(Decimal(value) * 100 / limit)


class Overspend(BaseModel):
    """An approval to spend `amount` past a budget that does not stop work, this month."""

    id: str
    budget: str
    period: str
    amount: Decimal
    reason: str
    approved_by: str
    approved_at: datetime


class BudgetRepo(Protocol):
    """Where budgets, their fired crossings and approved overspends live."""

    def get_budget(self, key: str) -> Budget | None: ...
    def budgets(self) -> list[Budget]: ...
    def put_budget(self, budget: Budget) -> None: ...
    def fired(self, key: str, period: str) -> set[tuple[str, int]]: ...
    def fire(self, key: str, period: str, crossing: Crossing, at: datetime) -> bool: ...
    def unfire(self, key: str, period: str, crossings: Iterable[tuple[str, int]]) -> None: ...
    def alerts(self, key: str, period: str) -> list[dict[str, Any]]: ...
    def add_overspend(self, overspend: Overspend) -> None: ...
    def overspends(self, key: str, period: str) -> list[Overspend]: ...


class CostRepo(LedgerRepo, BudgetRepo, Protocol):
    """`unit.cost`: the ledger and the budgets, in one repository."""
