"""Budgets: what is in force, the room each leaves, admission against that room, threshold
alerts, overspends and the hard ceiling that stops jobs.

Reached through `ws.cost` (`CostService`), whose public methods document each call.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from leanops.cost.admission import Decision, Room, covering, decide
from leanops.cost.budgets import (
    Budget,
    Crossing,
    Overspend,
    alert_text,
    budget_amount,
    budget_key,
    check_thresholds,
    crossings,
    forecast_linear,
    month_of,
    percent_of,
    reached,
    rearmed,
)
from leanops.cost.ledger import job_reserved_usage, job_tags, missing_tags
from leanops.cost.models import BudgetStatus, Estimate
from leanops.cost.naming import check_name
from leanops.cost.prices import breakdown, cost_of, money, show
from leanops.cost.quotas import check_resources
from leanops.errors import BudgetExceeded, Conflict, LeanopsError, NotFound, ValidationError
from leanops.events import CeilingReached
from leanops.policy import Resource
from leanops.ports import Unit
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.cost.service import CostService


class Budgeting:
    """Budgets of `ws.cost`: set, read, admit against, alert on, enforce."""

    def __init__(self, cost: CostService) -> None:
        self.cost = cost

    def _hard_ceiling(self, zone: Zone | str) -> bool:
        rules = self.cost.settings.zones.get(Zone(zone))
        return bool(rules and rules.hard_ceiling)

    def _in_force(self, unit: Unit) -> list[Budget]:
        """Budgets set with `budget set`, then those of leanops.yaml that none of them replaces."""
        stored = {b.key: b for b in unit.cost.budgets()}
        cfg = self.cost.settings.budgets
        for item in cfg.initial:
            budget = Budget(
                zone=item.zone,
                project=item.project,
                monthly=item.monthly,
                owner=item.owner or self.cost.settings.owner or self.cost.settings.acting_user,
                thresholds=item.thresholds or cfg.thresholds,
                currency=self.cost.currency,
                origin="config",
            )
            stored.setdefault(budget.key, budget)
        return sorted(stored.values(), key=lambda b: b.key)

    def set_budget(
        self,
        zone: Zone | str,
        monthly: Decimal | float | str,
        *,
        owner: str,
        project: str | None = None,
        thresholds: list[int] | None = None,
    ) -> Budget:
        zone = Zone(zone)
        amount = budget_amount(monthly, self.cost.currency)
        thresholds = check_thresholds(thresholds) if thresholds else None
        budget = Budget(
            zone=zone,
            project=project,
            monthly=amount,
            owner=owner,
            currency=self.cost.currency,
            thresholds=thresholds or self.cost.settings.budgets.thresholds,
            updated_at=self.cost.now,
            updated_by=self.cost._guard.actor.name,
        )
        details: dict[str, Any] = {
            "monthly": str(budget.monthly),
            "owner": owner,
            "thresholds": budget.thresholds,
            "currency": self.cost.currency,
        }
        resource = Resource(type="Budget", id=budget.key, owner=owner, attrs={"zone": str(zone)})
        with self.cost._guard.act("budget.set", resource, zone=zone, details=details) as unit:
            if unit.identity.get_principal(owner) is None:
                raise ValidationError(
                    f"Budget owner {owner!r} is not a user of this project.",
                    hint="Add them with `leanops users add`, or name an existing user with --owner.",
                )
            before = next((b for b in self._in_force(unit) if b.key == budget.key), None)
            details["previous"] = str(before.monthly) if before else None
            unit.cost.put_budget(budget)
            status = self._status(unit, budget)
            period = month_of(self.cost.now).label
            unit.cost.unfire(
                budget.key, period, rearmed(status.spent, status.forecast, budget, unit.cost.fired(budget.key, period))
            )
        self.cost.check_budgets()
        self.cost.enforce_ceiling()
        return budget

    def list_budgets(self) -> list[BudgetStatus]:
        with self.cost._guard.act("budget.read", Resource(type="Budget", id="*"), details={"op": "list"}) as unit:
            return [self._status(unit, b) for b in self._in_force(unit)]

    def show_budget(self, zone: Zone | str, project: str | None = None) -> BudgetStatus:
        key = budget_key(zone, project)
        with self.cost._guard.act("budget.read", Resource(type="Budget", id=key), zone=Zone(zone)) as unit:
            budget = next((b for b in self._in_force(unit) if b.key == key), None)
            if budget is None:
                raise NotFound(
                    f"No budget {key}.", hint="`leanops budget list` shows them; `leanops budget set` adds one."
                )
            status = self._status(unit, budget)
            period = month_of(self.cost.now).label
            status.alerts = unit.cost.alerts(key, period)
            status.overspends = unit.cost.overspends(key, period)
            return status

    def _status(self, unit: Unit, budget: Budget) -> BudgetStatus:
        now, period = self.cost.now, month_of(self.cost.now)
        spent = unit.cost.total(period.start, period.end, zone=str(budget.zone), project=budget.project)
        forecast = None
        if now - period.start >= timedelta(days=self.cost.settings.budgets.forecast_after_days):
            forecast = forecast_linear(spent, period.start, now, period.end)
        room = self._room(unit, budget, spent)
        return BudgetStatus(
            budget=budget,
            period=period.label,
            spent=spent,
            forecast=forecast,
            percent=percent_of(spent, budget.monthly),
            forecast_percent=None if forecast is None else percent_of(forecast, budget.monthly),
            committed=room.committed,
            overspend=room.overspend,
            left=room.left,
            hard_ceiling=room.hard_ceiling,
        )

    def approve_overspend(
        self, zone: Zone | str, amount: Decimal | float | str, *, reason: str, project: str | None = None
    ) -> Overspend:
        zone = Zone(zone)
        if self._hard_ceiling(zone):
            raise Conflict(
                f"The {zone} budget is a hard ceiling; it cannot be overspent.",
                hint=f"An admin may raise it: leanops budget set --zone {zone} --monthly AMOUNT --owner USER",
            )
        if not reason.strip():
            raise ValidationError("An overspend needs a reason.", hint='Pass --reason "why this is worth it".')
        key = budget_key(zone, project)
        overspend = Overspend(
            id=uuid.uuid4().hex,
            budget=key,
            period=month_of(self.cost.now).label,
            amount=money(amount),
            reason=reason,
            approved_by=self.cost._guard.actor.name,
            approved_at=self.cost.now,
        )
        details = {"amount": str(overspend.amount), "period": overspend.period, "reason": reason}
        with self.cost._guard.act(
            "budget.overspend", Resource(type="Budget", id=key, attrs={"zone": str(zone)}), zone=zone, details=details
        ) as unit:
            budget = next((b for b in self._in_force(unit) if b.key == key), None)
            if budget is None:
                raise NotFound(f"No budget {key} to overspend.", hint="Set one first: leanops budget set.")
            unit.cost.add_overspend(overspend)
        self.cost.notifier.send(
            f"Overspend approved on budget {key}",
            f"{overspend.approved_by} allowed {show(overspend.amount)} {self.cost.currency} past the {key} "
            f"budget for {overspend.period}: {reason}",
            severity="warning",
            owner=budget.owner,
            budget=key,
            zone=str(zone),
        )
        return overspend

    def _room(self, unit: Unit, budget: Budget, spent: Decimal | None = None) -> Room:
        period = month_of(self.cost.now)
        if spent is None:
            spent = unit.cost.total(period.start, period.end, zone=str(budget.zone), project=budget.project)
        active = [j for j in unit.jobs.active() if budget.covers(self._tags_of(j))]
        charged = unit.cost.charged_for_jobs([j.id for j in active])
        committed = sum(
            (
                max(
                    cost_of(job_reserved_usage(j), self.cost.settings.prices) - charged.get(j.id, Decimal(0)),
                    Decimal(0),
                )
                for j in active
            ),
            Decimal(0),
        )
        overspend = sum((o.amount for o in unit.cost.overspends(budget.key, period.label)), Decimal(0))
        return Room(
            budget=budget.key,
            monthly=budget.monthly,
            spent=spent,
            committed=money(committed),
            overspend=money(overspend),
            hard_ceiling=self._hard_ceiling(budget.zone),
        )

    def _tags_of(self, job: Any) -> dict[str, str]:
        return job_tags(job, self.cost.settings.project, self.cost.settings.budgets.default_tags)

    def _decide(self, unit: Unit, job: Any, reserved: Decimal) -> Decision:
        tags = self._tags_of(job)
        budgets = covering(self._in_force(unit), tags["zone"], tags["project"])
        return decide(reserved, [self._room(unit, b) for b in budgets])

    def admit(self, job: Any, unit: Unit) -> Decimal:
        zone = Zone(job.zone)
        check_resources(job.name, zone, job.resources, self.cost.settings.jobs.quotas.get(zone))
        check_name("job", job.name, self.cost.settings.naming.model_dump())
        missing = missing_tags(self._tags_of(job), self.cost._required_tags(zone))
        if missing:
            raise ValidationError(
                f"Job {job.name} would spend untagged in {zone}: it lacks {', '.join(missing)}.",
                hint="Add them under `tags:` in the spec (or budgets.default_tags in leanops.yaml).",
            )
        reserved = cost_of(job_reserved_usage(job), self.cost.settings.prices)
        decision = self._decide(unit, job, reserved)
        if decision.admitted:
            return reserved
        room = decision.blocking
        assert room is not None
        reason = decision.reason(self.cost.currency, f"Job {job.name}")
        if room.hard_ceiling:
            hint = (
                "Shorten its deadline or resources, or ask an admin to raise the budget: "
                f"leanops budget set --zone {zone} --monthly AMOUNT --owner USER"
            )
        else:
            hint = (
                f"An approver may allow it: leanops budget approve-overspend --zone {zone} "
                f'--amount {show(max(reserved - room.left, Decimal(0)))} --reason "…"'
            )
        raise BudgetExceeded(reason, hint=hint, budget=room.budget, reserved=str(reserved), left=str(room.left))

    def estimate(self, spec: Any, *, trials: int = 1) -> Estimate:
        if trials < 1:
            raise ValidationError("trials must be at least 1.")
        job = SimpleNamespace(
            id="estimate",
            name=spec.name,
            owner=spec.owner,
            zone=str(spec.zone),
            tags={"owner": spec.owner, **dict(spec.tags)},
            resources=spec.resources.model_dump(),
            deadline_seconds=float(spec.deadline),
        )
        usage = job_reserved_usage(job)
        per_trial = cost_of(usage, self.cost.settings.prices)
        reserved = money(per_trial * trials)
        with self.cost._guard.act(
            "cost.read", self.cost._project_resource(), details={"op": "estimate", "job": spec.name}
        ) as unit:
            decision = self._decide(unit, job, reserved)
        what = f"Job {spec.name}" + (f" × {trials} trials" if trials > 1 else "")
        return Estimate(
            job=spec.name,
            zone=str(spec.zone),
            trials=trials,
            deadline_seconds=job.deadline_seconds,
            resources=job.resources,
            usage=usage,
            per_trial=per_trial,
            reserved=reserved,
            breakdown={k: money(v) for k, v in breakdown(usage, self.cost.settings.prices).items()},
            currency=self.cost.currency,
            admitted=decision.admitted,
            rooms=decision.rooms,
            reason=decision.reason(self.cost.currency, what),
        )

    def quotas(self) -> dict[str, dict[str, Any]]:
        with self.cost._guard.act("cost.read", self.cost._project_resource(), details={"op": "quotas"}):
            return {str(z): q.model_dump() for z, q in self.cost.settings.jobs.quotas.items()}

    def check_budgets(self) -> list[Crossing]:
        now, period = self.cost.now, month_of(self.cost.now)
        fired: list[tuple[Budget, Crossing]] = []
        with self.cost._guard.lookup() as unit:
            for budget in self._in_force(unit):
                status = self._status(unit, budget)
                for crossing in crossings(
                    status.spent, status.forecast, budget, unit.cost.fired(budget.key, period.label)
                ):
                    if unit.cost.fire(budget.key, period.label, crossing, now):
                        fired.append((budget, crossing))
        for budget, crossing in fired:
            self._alert(budget, crossing, period.label)
        return [c for _, c in fired]

    def _alert(self, budget: Budget, crossing: Crossing, period: str) -> None:
        subject, body, severity = alert_text(budget, crossing, period, hard_ceiling=self._hard_ceiling(budget.zone))
        self.cost.notifier.send(
            subject,
            body,
            severity=severity,
            owner=budget.owner,
            budget=budget.key,
            zone=str(budget.zone),
            basis=str(crossing.basis),
            percent=crossing.percent,
        )

    def enforce_ceiling(self) -> list[str]:
        if not self.cost.bus.handles(CeilingReached):
            return []
        with self.cost._guard.lookup() as unit:
            spent = [(b, self._status(unit, b)) for b in self._in_force(unit) if self._hard_ceiling(b.zone)]
            spent = [(b, s) for b, s in spent if reached(s.spent, b.monthly, 100)]
            # A job already asked to stop is left to its runner: each is stopped (and reported) once.
            targets = {
                j.id: (b, j)
                for b, _ in spent
                for j in unit.jobs.active()
                if j.cancel_requested_at is None and b.covers(self._tags_of(j))
            }
        stopped, failed = [], []
        for job_id, (budget, job) in targets.items():
            try:
                self.cost.bus.publish(CeilingReached(budget.key, job_id))
                stopped.append(job_id)
            except Conflict:
                continue  # it ended meanwhile
            except LeanopsError as exc:
                failed.append(f"{job.name} ({job_id[:12]}): {exc.message}")
        for budget in {b.key: b for b, _ in targets.values()}.values():
            names = [j.name for b, j in targets.values() if b.key == budget.key and j.id in stopped]
            body = f"The {budget.key} budget of {show(budget.monthly)} {self.cost.currency} is spent"
            if names:
                body += f"; stopping {len(names)} job(s): {', '.join(names)}"
            if failed:
                body += f"; could not stop: {'; '.join(failed)}"
            self.cost.notifier.send(
                f"Budget {budget.key} ceiling reached",
                body + ".",
                severity="critical",
                owner=budget.owner,
                budget=budget.key,
                zone=str(budget.zone),
            )
        return stopped
