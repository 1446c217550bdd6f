"""CostService: metering into the ledger, budgets and their alerts, admission, the sandbox
ceiling, estimates, reports and unit economics.

    ws.cost.set_budget("sandbox", 50, owner="alice")      # audited admin action
    ws.cost.estimate(ws.jobs.load("jobs/train.yaml").spec)
    ws.cost.report("week", by="owner")

Metering is plumbing: a job attempt or a stored day becomes a ledger entry in a transaction
of its own, without an audit record of its own, because what it prices (the attempt with its
metering, the artifact reference) is audited already; the entry's unique `source` makes
metering safe to repeat. Everything a person asks for goes through the guard.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from leanops.cost.admission import Decision, Room, covering, decide
from leanops.cost.budgets import (
    Budget,
    Crossing,
    Overspend,
    alert_text,
    budget_key,
    crossings,
    forecast_linear,
    month_of,
    percent_of,
    reached,
    rearmed,
)
from leanops.cost.ledger import (
    CostKind,
    LedgerEntry,
    attempt_entry,
    job_reserved_usage,
    job_tags,
    missing_tags,
    storage_entries,
)
from leanops.cost.models import BudgetStatus, Estimate, SyncResult
from leanops.cost.naming import check_name
from leanops.cost.prices import Usage, breakdown, cost_of, money, show, storage_usage
from leanops.cost.quotas import check_resources
from leanops.cost.reports import ExpiredArtifact, Report, build_report, windows
from leanops.cost.unit import UnitEconomics, deployments_from_moves, incidents_from_moves, unit_economics
from leanops.errors import BudgetExceeded, Conflict, LeanopsError, NotFound, ValidationError
from leanops.events import AttemptEnded, CeilingReached, EvaluationDone, EventBus, JobAdmitting
from leanops.guard import Guard
from leanops.policy import Resource
from leanops.ports import Notifier
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.config import Settings

STORAGE_LOOKBACK = timedelta(days=2)  # re-examine recent days: a reference may commit late


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

    # -- configuration views --------------------------------------------------------------

    @property
    def currency(self) -> str:
        return self.settings.currency

    @property
    def now(self) -> datetime:
        return self._guard.clock.now()

    def _hard_ceiling(self, zone: Zone | str) -> bool:
        rules = self.settings.zones.get(Zone(zone))
        return bool(rules and rules.hard_ceiling)

    def _required_tags(self, zone: Zone | str) -> list[str]:
        """Tags spend must carry to be admitted in `zone`; none where the zone requires no tags."""
        rules = self.settings.zones.get(Zone(zone))
        if not rules or not rules.required_tags:
            return []
        return list(dict.fromkeys([*rules.required_tags, *self.settings.budgets.attribution_tags]))

    def _project_resource(self) -> Resource:
        return Resource(type="Project", id=self.settings.project, owner=self.settings.owner or "")

    def _in_force(self, unit: Any) -> list[Budget]:
        """Budgets set with `budget set`, then those of leanops.yaml that none of them replaces."""
        stored = {b.key: b for b in unit.cost.budgets()}
        cfg = self.settings.budgets
        for item in cfg.initial:
            budget = Budget(
                zone=item.zone,
                project=item.project,
                monthly=item.monthly,
                owner=item.owner or self.settings.owner or self.settings.acting_user,
                thresholds=item.thresholds or cfg.thresholds,
                currency=self.currency,
                origin="config",
            )
            stored.setdefault(budget.key, budget)
        return sorted(stored.values(), key=lambda b: b.key)

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
        zone = Zone(zone)
        amount = budget_amount(monthly, self.currency)
        thresholds = check_thresholds(thresholds) if thresholds else None
        budget = Budget(
            zone=zone,
            project=project,
            monthly=amount,
            owner=owner,
            currency=self.currency,
            thresholds=thresholds or self.settings.budgets.thresholds,
            updated_at=self.now,
            updated_by=self._guard.actor.name,
        )
        details: dict[str, Any] = {
            "monthly": str(budget.monthly),
            "owner": owner,
            "thresholds": budget.thresholds,
            "currency": self.currency,
        }
        resource = Resource(type="Budget", id=budget.key, owner=owner, attrs={"zone": str(zone)})
        with self._guard.act("budget.set", resource, zone=zone, details=details) as unit:
            if unit.identity.get_principal(owner) is None:
                raise ValidationError(
                    f"Budget owner {owner!r} is not a user of this project.",
                    hint="Add them with `leanops users add`, or name an existing user with --owner.",
                )
            before = next((b for b in self._in_force(unit) if b.key == budget.key), None)
            details["previous"] = str(before.monthly) if before else None
            unit.cost.put_budget(budget)
            status = self._status(unit, budget)
            period = month_of(self.now).label
            unit.cost.unfire(
                budget.key, period, rearmed(status.spent, status.forecast, budget, unit.cost.fired(budget.key, period))
            )
        self.check_budgets()
        self.enforce_ceiling()
        return budget

    def list_budgets(self) -> list[BudgetStatus]:
        """Every budget in force with this month's spend, forecast and room left."""
        with self._guard.act("budget.read", Resource(type="Budget", id="*"), details={"op": "list"}) as unit:
            return [self._status(unit, b) for b in self._in_force(unit)]

    def show_budget(self, zone: Zone | str, project: str | None = None) -> BudgetStatus:
        """One budget with the alerts it raised and the overspends approved this month."""
        key = budget_key(zone, project)
        with self._guard.act("budget.read", Resource(type="Budget", id=key), zone=Zone(zone)) as unit:
            budget = next((b for b in self._in_force(unit) if b.key == key), None)
            if budget is None:
                raise NotFound(
                    f"No budget {key}.", hint="`leanops budget list` shows them; `leanops budget set` adds one."
                )
            status = self._status(unit, budget)
            period = month_of(self.now).label
            status.alerts = unit.cost.alerts(key, period)
            status.overspends = unit.cost.overspends(key, period)
            return status

    def _status(self, unit: Any, budget: Budget) -> BudgetStatus:
        now, period = self.now, month_of(self.now)
        spent = unit.cost.total(period.start, period.end, zone=str(budget.zone), project=budget.project)
        forecast = None
        if now - period.start >= timedelta(days=self.settings.budgets.forecast_after_days):
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
        """Allow spend past a budget that never stops work (production); approvers may, with a reason."""
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
            period=month_of(self.now).label,
            amount=money(amount),
            reason=reason,
            approved_by=self._guard.actor.name,
            approved_at=self.now,
        )
        details = {"amount": str(overspend.amount), "period": overspend.period, "reason": reason}
        with self._guard.act(
            "budget.overspend", Resource(type="Budget", id=key, attrs={"zone": str(zone)}), zone=zone, details=details
        ) as unit:
            budget = next((b for b in self._in_force(unit) if b.key == key), None)
            if budget is None:
                raise NotFound(f"No budget {key} to overspend.", hint="Set one first: leanops budget set.")
            unit.cost.add_overspend(overspend)
        self.notifier.send(
            f"Overspend approved on budget {key}",
            f"{overspend.approved_by} allowed {show(overspend.amount)} {self.currency} past the {key} "
            f"budget for {overspend.period}: {reason}",
            severity="warning",
            owner=budget.owner,
            budget=key,
            zone=str(zone),
        )
        return overspend

    # -- admission ------------------------------------------------------------------------

    def _room(self, unit: Any, budget: Budget, spent: Decimal | None = None) -> Room:
        period = month_of(self.now)
        if spent is None:
            spent = unit.cost.total(period.start, period.end, zone=str(budget.zone), project=budget.project)
        active = [j for j in unit.jobs.active() if budget.covers(self._tags_of(j))]
        charged = unit.cost.charged_for_jobs([j.id for j in active])
        committed = sum(
            (
                max(cost_of(job_reserved_usage(j), self.settings.prices) - charged.get(j.id, Decimal(0)), Decimal(0))
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
        return job_tags(job, self.settings.project, self.settings.budgets.default_tags)

    def _decide(self, unit: Any, job: Any, reserved: Decimal) -> Decision:
        tags = self._tags_of(job)
        budgets = covering(self._in_force(unit), tags["zone"], tags["project"])
        return decide(reserved, [self._room(unit, b) for b in budgets])

    def admit(self, job: Any, unit: Any) -> Decimal:
        """Check a job before it is recorded (called by the jobs service, inside its transaction):
        resources per job against the zone's quota, naming convention, tags, and room in every
        budget covering it.
        Returns the reserved cost; raises `BudgetExceeded` or `ValidationError`."""
        zone = Zone(job.zone)
        check_resources(job.name, zone, job.resources, self.settings.jobs.quotas.get(zone))
        check_name("job", job.name, self.settings.naming.model_dump())
        missing = missing_tags(self._tags_of(job), self._required_tags(zone))
        if missing:
            raise ValidationError(
                f"Job {job.name} would spend untagged in {zone}: it lacks {', '.join(missing)}.",
                hint="Add them under `tags:` in the spec (or budgets.default_tags in leanops.yaml).",
            )
        reserved = cost_of(job_reserved_usage(job), self.settings.prices)
        decision = self._decide(unit, job, reserved)
        if decision.admitted:
            return reserved
        room = decision.blocking
        assert room is not None
        reason = decision.reason(self.currency, f"Job {job.name}")
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
        """What a job spec (a `JobSpec`) would reserve, and whether its budgets would admit it now."""
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
        per_trial = cost_of(usage, self.settings.prices)
        reserved = money(per_trial * trials)
        with self._guard.act(
            "cost.read", self._project_resource(), details={"op": "estimate", "job": spec.name}
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
            breakdown={k: money(v) for k, v in breakdown(usage, self.settings.prices).items()},
            currency=self.currency,
            admitted=decision.admitted,
            rooms=decision.rooms,
            reason=decision.reason(self.currency, what),
        )

    def quotas(self) -> dict[str, dict[str, Any]]:
        """Each zone's quotas (`jobs.quotas`): deadline, concurrency and sweep size are enforced by
        the jobs service, resources per job at admission."""
        with self._guard.act("cost.read", self._project_resource(), details={"op": "quotas"}):
            return {str(z): q.model_dump() for z, q in self.settings.jobs.quotas.items()}

    # -- metering -------------------------------------------------------------------------

    def _defaults(self) -> dict[str, Any]:
        b = self.settings.budgets
        return {
            "currency": self.currency,
            "project": self.settings.project,
            "defaults": b.default_tags,
            "attribution": b.attribution_tags,
        }

    def _write(self, unit: Any, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        added = []
        for entry in entries:
            entry.recorded_at, entry.recorded_by = self.now, self._guard.actor.name
            if unit.cost.add(entry):
                added.append(entry)
        return added

    def record_attempt(self, job: Any, attempt: Any) -> LedgerEntry | None:
        """Charge one ended job attempt (called by the jobs service); then alert and enforce.

        Never raises: a job's outcome must not depend on its bill. A failure is reported to the
        notifier and the attempt is charged by the next `sync`.
        """
        try:
            entry = attempt_entry(job, attempt, self.settings.prices, **self._defaults())
            with self._guard.lookup() as unit:
                added = self._write(unit, [entry])
            if added:
                self._after_spend()
            return added[0] if added else None
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self.notifier.send(
                "Cost metering failed",
                f"Job {job.id[:12]} attempt {attempt.n}: {exc}",
                severity="error",
                owner=job.owner,
                job_id=job.id,
            )
            return None

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
        kind = CostKind(kind)
        zone = Zone(tags.get("zone") or self._guard.zone)
        tags = {**self.settings.budgets.default_tags, "project": self.settings.project, **tags, "zone": str(zone)}
        missing = missing_tags(tags, self._required_tags(zone))
        entry = LedgerEntry(
            at=at or self.now,
            kind=kind,
            usage=usage,
            amount=cost_of(usage, self.settings.prices),
            currency=self.currency,
            tags=tags,
            source=source,
            refs=refs or {},
            untagged=missing_tags(tags, self.settings.budgets.attribution_tags),
        )
        details = {"kind": str(kind), "source": source, "amount": str(entry.amount)}
        with self._guard.act(
            "cost.record",
            self._project_resource().model_copy(update={"owner": tags.get("owner", "")}),
            zone=zone,
            context={"tagged": not missing},
            details=details,
        ) as unit:
            if missing:
                raise ValidationError(
                    f"Spend in {zone} must carry the tags {', '.join(missing)}.",
                    hint="Tag it, or set budgets.default_tags in leanops.yaml.",
                    missing=missing,
                )
            added = self._write(unit, [entry])
        if added:
            self._after_spend()
        return added[0] if added else None

    def sync(self) -> SyncResult:
        """Charge whatever is not in the ledger yet — ended attempts, complete days of storage — then
        alert crossed thresholds and enforce the ceiling. Safe to run any number of times (cron)."""
        with self._guard.act("cost.record", self._project_resource(), details={"op": "sync"}) as unit:
            result = self._meter(unit)
        if result.attempts or result.storage:
            result.crossings, result.stopped = self._after_spend()
        return result

    def _meter(self, unit: Any) -> SyncResult:
        now, d = self.now, self._defaults()
        entries = [
            attempt_entry(job, attempt, self.settings.prices, **d) for job, attempt in unit.cost.unmetered_attempts()
        ]
        result = SyncResult(attempts=len(self._write(unit, entries)))
        refs = unit.refs.all()
        if refs:
            last = unit.cost.last_at(str(CostKind.STORAGE))
            since = last - STORAGE_LOOKBACK if last else min(r.created_at for r in refs)
            stored = storage_entries(refs, since, now, self.settings.prices, **d)
            existing = unit.cost.existing_sources([e.source for e in stored])
            result.storage = len(self._write(unit, [e for e in stored if e.source not in existing]))
        return result

    def _after_spend(self) -> tuple[list[Crossing], list[str]]:
        return self.check_budgets(), self.enforce_ceiling()

    # -- thresholds and the ceiling -------------------------------------------------------

    def check_budgets(self) -> list[Crossing]:
        """Fire each threshold crossing not fired yet this month and alert the budget's owner, once."""
        now, period = self.now, month_of(self.now)
        fired: list[tuple[Budget, Crossing]] = []
        with self._guard.lookup() as unit:
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
        self.notifier.send(
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
        """Stop the queued and running jobs of every hard-ceiling budget that is spent; their ids."""
        if not self.bus.handles(CeilingReached):
            return []
        with self._guard.lookup() as unit:
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
                self.bus.publish(CeilingReached(budget.key, job_id))
                stopped.append(job_id)
            except Conflict:
                continue  # it ended meanwhile
            except LeanopsError as exc:
                failed.append(f"{job.name} ({job_id[:12]}): {exc.message}")
        for budget in {b.key: b for b, _ in targets.values()}.values():
            names = [j.name for b, j in targets.values() if b.key == budget.key and j.id in stopped]
            body = f"The {budget.key} budget of {show(budget.monthly)} {self.currency} is spent"
            if names:
                body += f"; stopping {len(names)} job(s): {', '.join(names)}"
            if failed:
                body += f"; could not stop: {'; '.join(failed)}"
            self.notifier.send(
                f"Budget {budget.key} ceiling reached",
                body + ".",
                severity="critical",
                owner=budget.owner,
                budget=budget.key,
                zone=str(budget.zone),
            )
        return stopped

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
        period = month_of(self.now)
        with self._guard.act("cost.read", self._project_resource(), details={"op": "ledger"}) as unit:
            return unit.cost.entries(start or period.start, end or period.end, zone=zone, kind=kind)

    def report(self, period: str = "week", *, by: str = "owner") -> Report:
        """Spend over the last week (or 30 days) by a tag, against the period before, with what to act on."""
        if period not in ("week", "month"):
            raise ValidationError(f"Unknown report period {period!r}.", hint="Use week or month.")
        now = self.now
        current, previous = windows(period, now)  # type: ignore[arg-type]
        with self._guard.act(
            "cost.read", self._project_resource(), details={"op": "report", "period": period, "by": by}
        ) as unit:
            metered = self._meter(unit)
            this = unit.cost.entries(current.start, current.end)
            before = unit.cost.entries(previous.start, previous.end)
            expired = [
                ExpiredArtifact(
                    name=r.name,
                    owner=f"{r.owner_kind}:{r.owner_id}",
                    zone=r.zone,
                    size=r.size,
                    expired_at=r.expires_at,
                    monthly_cost=cost_of(storage_usage(r.size, 730 * 3600), self.settings.prices),
                )
                for r in unit.refs.expired(now)
            ]
        if metered.attempts or metered.storage:
            self._after_spend()
        return build_report(
            this,
            before,
            period=period,
            by=by,
            currency=self.currency,
            window=current,
            previous_window=previous,
            expired=expired,
        )

    def unit(self, model: str, *, zone: Zone | str = Zone.PRODUCTION) -> UnitEconomics:
        """Unit economics of `model`; deployments are its successful promotions into `zone`."""
        with self._guard.act("cost.read", Resource(type="Model", id=model), details={"op": "unit"}) as unit:
            versions = unit.models.list_versions(model)
            moves = unit.models.moves(model) if versions else []
            entries = unit.cost.entries_for_model(model, {v.run_id for v in versions})
        return unit_economics(
            model,
            entries,
            deployments_from_moves(moves, str(Zone(zone))),
            incidents_from_moves(moves),
            currency=self.currency,
        )

    # -- what it hears (the workspace subscribes these) ----------------------------------

    def on_job_admitting(self, event: JobAdmitting) -> None:
        self.admit(event.job, event.unit)

    def on_attempt_ended(self, event: AttemptEnded) -> None:
        self.record_attempt(event.job, event.attempt)

    def on_evaluation_done(self, event: EvaluationDone) -> None:
        """Charge an evaluation to its model, so unit economics count it toward the next deployment.

        Billed like a job attempt: one CPU for the wall time it took (test command included)."""
        evidence, run = event.evidence, event.run
        tags = {"zone": str(evidence.zone), "model": evidence.name, "owner": run.owner}
        tags |= {k: str(run.tags[k]) for k in ("cost_center", "project") if run.tags.get(k)}
        self.record_usage(
            "evaluation",
            Usage(cpu_hours=event.seconds / 3600),
            tags=tags,
            source=f"evaluation:{evidence.id}",
            refs={"evidence": evidence.id, "version": evidence.version},
        )
