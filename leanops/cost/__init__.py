"""Cost control from day one: a price table, a tagged ledger, budgets with thresholds and
forecasts, quotas, a hard sandbox ceiling, naming conventions, reports and unit economics.

    ws.cost.set_budget("sandbox", 50, owner="alice")
    ws.cost.estimate(ws.jobs.load("jobs/train.yaml").spec).reserved
    ws.cost.report("week", by="model")
    ws.cost.unit("churn").cost_per_training_run

`prices`, `ledger`, `budgets`, `admission`, `quotas`, `naming`, `reports` and `unit` are pure
rules; `metering`, `budgeting` and `reporting` wire them to the guard, the store and the
notifier, behind the one `service`. Quotas per zone
live in `jobs.quotas`: the jobs enforce deadline, concurrency and sweep size; admission here
enforces resources per job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanops.cost.budgets import Basis, Budget, Crossing, Overspend, forecast_linear
from leanops.cost.ledger import CostKind, LedgerEntry
from leanops.cost.models import BudgetStatus, Estimate, SyncResult
from leanops.cost.naming import check_name
from leanops.cost.prices import PriceTable, Usage, cost_of
from leanops.cost.reports import Report
from leanops.cost.unit import UnitEconomics

if TYPE_CHECKING:
    from leanops.cost.service import CostService

__all__ = [
    "Basis",
    "Budget",
    "BudgetStatus",
    "CostKind",
    "CostService",
    "Crossing",
    "Estimate",
    "LedgerEntry",
    "Overspend",
    "PriceTable",
    "Report",
    "SyncResult",
    "UnitEconomics",
    "Usage",
    "check_name",
    "cost_of",
    "forecast_linear",
]


def __getattr__(name: str) -> Any:
    # The service imports the guard and the zones; config imports this package for the price
    # table, so the service loads on first use rather than with the package.
    if name == "CostService":
        from leanops.cost.service import CostService

        return CostService
    raise AttributeError(f"module 'leanops.cost' has no attribute {name!r}")
