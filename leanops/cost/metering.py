"""Metering: whatever was used becomes a ledger entry, exactly once.

A job attempt or a stored day is plumbing: a ledger entry in a transaction of its own, without
an audit record of its own, because what it prices (the attempt with its metering, the artifact
reference) is audited already; the entry's unique `source` makes metering safe to repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from leanops.cost.ledger import CostKind, LedgerEntry, attempt_entry, missing_tags, storage_entries
from leanops.cost.models import SyncResult
from leanops.cost.prices import Usage, cost_of
from leanops.errors import ValidationError
from leanops.events import EvaluationDone
from leanops.ports import Unit
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.cost.service import CostService

STORAGE_LOOKBACK = timedelta(days=2)  # re-examine recent days: a reference may commit late


class Meter:
    """Writes `ws.cost`'s ledger: ended attempts, reported usage, evaluations, stored days."""

    def __init__(self, cost: CostService) -> None:
        self.cost = cost

    def _defaults(self) -> dict[str, Any]:
        b = self.cost.settings.budgets
        return {
            "currency": self.cost.currency,
            "project": self.cost.settings.project,
            "defaults": b.default_tags,
            "attribution": b.attribution_tags,
        }

    def _write(self, unit: Unit, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        added = []
        for entry in entries:
            entry.recorded_at, entry.recorded_by = self.cost.now, self.cost._guard.actor.name
            if unit.cost.add(entry):
                added.append(entry)
        return added

    def record_attempt(self, job: Any, attempt: Any) -> LedgerEntry | None:
        try:
            entry = attempt_entry(job, attempt, self.cost.settings.prices, **self._defaults())
            with self.cost._guard.lookup() as unit:
                added = self._write(unit, [entry])
            if added:
                self.cost._after_spend()
            return added[0] if added else None
        except Exception as exc:  # noqa: BLE001 - a job's outcome must not depend on its bill
            self.cost.notifier.send(
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
        kind = CostKind(kind)
        zone = Zone(tags.get("zone") or self.cost._guard.zone)
        tags = {
            **self.cost.settings.budgets.default_tags,
            "project": self.cost.settings.project,
            **tags,
            "zone": str(zone),
        }
        missing = missing_tags(tags, self.cost._required_tags(zone))
        entry = LedgerEntry(
            at=at or self.cost.now,
            kind=kind,
            usage=usage,
            amount=cost_of(usage, self.cost.settings.prices),
            currency=self.cost.currency,
            tags=tags,
            source=source,
            refs=refs or {},
            untagged=missing_tags(tags, self.cost.settings.budgets.attribution_tags),
        )
        details = {"kind": str(kind), "source": source, "amount": str(entry.amount)}
        with self.cost._guard.act(
            "cost.record",
            self.cost._project_resource().model_copy(update={"owner": tags.get("owner", "")}),
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
            self.cost._after_spend()
        return added[0] if added else None

    def record_evaluation(self, event: EvaluationDone) -> None:
        evidence, run = event.evidence, event.run
        tags = {"zone": str(evidence.zone), "model": evidence.name, "owner": run.owner}
        tags |= {k: str(run.tags[k]) for k in ("cost_center", "project") if run.tags.get(k)}
        self.cost.record_usage(
            "evaluation",
            Usage(cpu_hours=event.seconds / 3600),
            tags=tags,
            source=f"evaluation:{evidence.id}",
            refs={"evidence": evidence.id, "version": evidence.version},
        )

    def sync(self) -> SyncResult:
        with self.cost._guard.act("cost.record", self.cost._project_resource(), details={"op": "sync"}) as unit:
            result = self.meter(unit)
        if result.attempts or result.storage:
            result.crossings, result.stopped = self.cost._after_spend()
        return result

    def meter(self, unit: Unit) -> SyncResult:
        """Charge in `unit` the ended attempts and complete stored days the ledger lacks."""
        now, d = self.cost.now, self._defaults()
        entries = [
            attempt_entry(job, attempt, self.cost.settings.prices, **d)
            for job, attempt in unit.cost.unmetered_attempts()
        ]
        result = SyncResult(attempts=len(self._write(unit, entries)))
        refs = unit.refs.all()
        if refs:
            last = unit.cost.last_at(str(CostKind.STORAGE))
            since = last - STORAGE_LOOKBACK if last else min(r.created_at for r in refs)
            stored = storage_entries(refs, since, now, self.cost.settings.prices, **d)
            existing = unit.cost.existing_sources([e.source for e in stored])
            result.storage = len(self._write(unit, [e for e in stored if e.source not in existing]))
        return result
