"""CostService (`ws.cost`): one face over metering, budgets and reports.

    ws.cost.set_budget("sandbox", 50, owner="alice")      # audited admin action
    ws.cost.estimate(ws.jobs.load("jobs/train.yaml").spec)
    ws.cost.report("week", by="owner")

`metering` writes the ledger, `budgeting` keeps budgets, admission, thresholds and the ceiling,
`reporting` reads the ledger back. This class holds what they share, the public calls and the
handlers of what other services publish. Everything a person asks for goes through the guard.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from leanops.cost.budgeting import Budgeting
from leanops.cost.budgets import Budget, Crossing, Overspend
from leanops.cost.ledger import CostKind, LedgerEntry
from leanops.cost.metering import Meter
from leanops.cost.models import BudgetStatus, Estimate, SyncResult
from leanops.cost.prices import Usage
from leanops.cost.reporting import Reporting
from leanops.cost.reports import Report
from leanops.cost.unit import UnitEconomics
from leanops.events import AttemptEnded, EvaluationDone, EventBus, JobAdmitting
from leanops.guard import Guard
from leanops.policy import Resource
from leanops.ports import Notifier, Unit
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.config import Settings


class CostService:
    """`ws.cost`: the project's cost ledger and budgets, acting as the guard's actor."""

    def __init__(
        self,
        guard: Guard,
        notifier: Notifier,
        settings: Settings,
        *,
        bus: EventBus | None = None,
    ) -> None:
        self._guard = guard
        self.notifier = notifier
        self.settings = settings
        self.bus = bus or EventBus()  # where it asks for the jobs of a spent ceiling to stop
        self._metering = Meter(self)
        self._budgeting = Budgeting(self)
        self._reporting = Reporting(self)

    # -- what the parts share -------------------------------------------------------------

    @property
    def currency(self) -> str:
        return self.settings.currency

    @property
    def now(self) -> datetime:
        return self._guard.clock.now()

    def _required_tags(self, zone: Zone | str) -> list[str]:
        """Tags spend must carry to be admitted in `zone`; none where the zone requires no tags."""
        rules = self.settings.zones.get(Zone(zone))
        if not rules or not rules.required_tags:
            return []
        return list(dict.fromkeys([*rules.required_tags, *self.settings.budgets.attribution_tags]))

    def _project_resource(self) -> Resource:
        return Resource(type="Project", id=self.settings.project, owner=self.settings.owner or "")

    def _after_spend(self) -> tuple[list[Crossing], list[str]]:
        return self.check_budgets(), self.enforce_ceiling()

    # -- budgets --------------------------------------------------------------------------

    def set_budget(
        self,
        zone: Zone | str,
        monthly: Decimal | float | str,
        *,
        owner: str,
        project: str | None = None,
        thresholds: list[int] | None = None,
    ) -> Budget:
        """Set (or replace) a zone's or a project's monthly budget; an audited admin action.

        ws.cost.set_budget("sandbox", 50, owner="alice")
        """
        return self._budgeting.set_budget(zone, monthly, owner=owner, project=project, thresholds=thresholds)

    def list_budgets(self) -> list[BudgetStatus]:
        """Every budget in force with this month's spend, forecast and room left."""
        return self._budgeting.list_budgets()

    def show_budget(self, zone: Zone | str, project: str | None = None) -> BudgetStatus:
        """One budget with the alerts it raised and the overspends approved this month."""
        return self._budgeting.show_budget(zone, project)

    def approve_overspend(
        self, zone: Zone | str, amount: Decimal | float | str, *, reason: str, project: str | None = None
    ) -> Overspend:
        """Allow spend past a budget that never stops work (production); approvers may, with a reason."""
        return self._budgeting.approve_overspend(zone, amount, reason=reason, project=project)

    # -- admission ------------------------------------------------------------------------

    def admit(self, job: Any, unit: Unit) -> Decimal:
        """Check a job before it is recorded (heard from the jobs service, inside its transaction):
        resources per job against the zone's quota, naming convention, tags, and room in every
        budget covering it.
        Returns the reserved cost; raises `BudgetExceeded` or `ValidationError`."""
        return self._budgeting.admit(job, unit)

    def estimate(self, spec: Any, *, trials: int = 1) -> Estimate:
        """What a job spec (a `JobSpec`) would reserve, and whether its budgets would admit it now."""
        return self._budgeting.estimate(spec, trials=trials)

    def quotas(self) -> dict[str, dict[str, Any]]:
        """Each zone's quotas (`jobs.quotas`): deadline, concurrency and sweep size are enforced by
        the jobs service, resources per job at admission."""
        return self._budgeting.quotas()

    # -- metering -------------------------------------------------------------------------

    def record_attempt(self, job: Any, attempt: Any) -> LedgerEntry | None:
        """Charge one ended job attempt (heard from the jobs service); then alert and enforce.

        Never raises: a job's outcome must not depend on its bill. A failure is reported to the
        notifier and the attempt is charged by the next `sync`.
        """
        return self._metering.record_attempt(job, attempt)

    def record_usage(
        self,
        kind: CostKind | str,
        usage: Usage,
        *,
        tags: dict[str, str],
        source: str,
        at: datetime | None = None,
        refs: dict[str, Any] | None = None,
    ) -> LedgerEntry | None:
        """Charge metered use reported by another part (serving, monitoring, evaluation).

        `tags` must name the zone; spend lacking the tags its zone requires is refused. Returns
        None if `source` was charged already.
        """
        return self._metering.record_usage(kind, usage, tags=tags, source=source, at=at, refs=refs)

    def sync(self) -> SyncResult:
        """Charge whatever is not in the ledger yet — ended attempts, complete days of storage — then
        alert crossed thresholds and enforce the ceiling. Safe to run any number of times (cron)."""
        return self._metering.sync()

    # -- thresholds and the ceiling -------------------------------------------------------

    def check_budgets(self) -> list[Crossing]:
        """Fire each threshold crossing not fired yet this month and alert the budget's owner, once."""
        return self._budgeting.check_budgets()

    def enforce_ceiling(self) -> list[str]:
        """Stop the queued and running jobs of every hard-ceiling budget that is spent; their ids."""
        return self._budgeting.enforce_ceiling()

    # -- reading --------------------------------------------------------------------------

    def ledger(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        zone: str | None = None,
        kind: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger entries in [start, end) (default: this month), oldest first."""
        return self._reporting.ledger(start, end, zone=zone, kind=kind)

    def report(self, period: str = "week", *, by: str = "owner") -> Report:
        """Spend over the last week (or 30 days) by a tag, against the period before, with what to act on."""
        return self._reporting.report(period, by=by)

    def unit(self, model: str, *, zone: Zone | str = Zone.PRODUCTION) -> UnitEconomics:
        """Unit economics of `model`; deployments are its successful promotions into `zone`."""
        return self._reporting.unit(model, zone=zone)

    # -- what it hears (the workspace subscribes these) ----------------------------------

    def on_job_admitting(self, event: JobAdmitting) -> None:
        self.admit(event.job, event.unit)

    def on_attempt_ended(self, event: AttemptEnded) -> None:
        self.record_attempt(event.job, event.attempt)

    def on_evaluation_done(self, event: EvaluationDone) -> None:
        """Charge an evaluation to its model, so unit economics count it toward the next deployment.

        Billed like a job attempt: one CPU for the wall time it took (test command included)."""
        self._metering.record_evaluation(event)
