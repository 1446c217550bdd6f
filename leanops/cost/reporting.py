"""Reading the ledger back: entries, weekly or monthly reports, and a model's unit economics."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from leanops.cost.budgets import month_of
from leanops.cost.ledger import LedgerEntry
from leanops.cost.prices import cost_of, storage_usage
from leanops.cost.reports import ExpiredArtifact, Report, build_report, windows
from leanops.cost.unit import UnitEconomics, deployments_from_moves, incidents_from_moves, unit_economics
from leanops.errors import ValidationError
from leanops.policy import Resource
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.cost.service import CostService


class Reporting:
    """The reads of `ws.cost`: ledger entries, reports and unit economics."""

    def __init__(self, cost: CostService) -> None:
        self.cost = cost

    def ledger(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        zone: str | None = None,
        kind: str | None = None,
    ) -> list[LedgerEntry]:
        period = month_of(self.cost.now)
        with self.cost._guard.act("cost.read", self.cost._project_resource(), details={"op": "ledger"}) as unit:
            return unit.cost.entries(start or period.start, end or period.end, zone=zone, kind=kind)

    def report(self, period: str = "week", *, by: str = "owner") -> Report:
        if period not in ("week", "month"):
            raise ValidationError(f"Unknown report period {period!r}.", hint="Use week or month.")
        now = self.cost.now
        current, previous = windows(period, now)  # type: ignore[arg-type]
        with self.cost._guard.act(
            "cost.read", self.cost._project_resource(), details={"op": "report", "period": period, "by": by}
        ) as unit:
            metered = self.cost._metering.meter(unit)
            this = unit.cost.entries(current.start, current.end)
            before = unit.cost.entries(previous.start, previous.end)
            expired = [
                ExpiredArtifact(
                    name=r.name,
                    owner=f"{r.owner_kind}:{r.owner_id}",
                    zone=r.zone,
                    size=r.size,
                    expired_at=r.expires_at,
                    monthly_cost=cost_of(storage_usage(r.size, 730 * 3600), self.cost.settings.prices),
                )
                for r in unit.refs.expired(now)
            ]
        if metered.attempts or metered.storage:
            self.cost._after_spend()
        return build_report(
            this,
            before,
            period=period,
            by=by,
            currency=self.cost.currency,
            window=current,
            previous_window=previous,
            expired=expired,
        )

    def unit(self, model: str, *, zone: Zone | str = Zone.PRODUCTION) -> UnitEconomics:
        with self.cost._guard.act("cost.read", Resource(type="Model", id=model), details={"op": "unit"}) as unit:
            versions = unit.models.list_versions(model)
            moves = unit.models.moves(model) if versions else []
            entries = unit.cost.entries_for_model(model, {v.run_id for v in versions})
        return unit_economics(
            model,
            entries,
            deployments_from_moves(moves, str(Zone(zone))),
            incidents_from_moves(moves),
            currency=self.cost.currency,
        )
