"""What the cost service answers with: a budget's state this month, an estimate, a sync."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from leanops.cost.admission import Room
from leanops.cost.budgets import Budget, Crossing, Overspend
from leanops.cost.prices import Usage


class BudgetStatus(BaseModel):
    """A budget this month: spend, forecast, what is left, and the alerts it raised."""

    budget: Budget
    period: str
    spent: Decimal
    forecast: Decimal | None = Field(None, description="None while too early in the month to extrapolate")
    percent: float | None = None
    forecast_percent: float | None = None
    committed: Decimal = Decimal(0)
    overspend: Decimal = Decimal(0)
    left: Decimal = Decimal(0)
    hard_ceiling: bool = False
    alerts: list[dict[str, Any]] = Field(default_factory=list)
    overspends: list[Overspend] = Field(default_factory=list)


class Estimate(BaseModel):
    """What a job would reserve before it runs, and whether its budgets would admit it."""

    job: str
    zone: str
    trials: int
    deadline_seconds: float
    resources: dict[str, Any]
    usage: Usage
    breakdown: dict[str, Decimal]
    per_trial: Decimal
    reserved: Decimal
    currency: str
    admitted: bool
    reason: str
    rooms: list[Room] = Field(default_factory=list)


class SyncResult(BaseModel):
    attempts: int = 0
    storage: int = 0
    crossings: list[Crossing] = Field(default_factory=list)
    stopped: list[str] = Field(default_factory=list)
