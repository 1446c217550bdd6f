"""The cost ledger, budgets, fired alerts and approved overspends in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, String, and_, cast, delete, exists, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from leanops.adapters.sql.tables import budget_alerts, budget_overspends, budgets, job_attempts, jobs, ledger
from leanops.cost.budgets import Budget, Crossing, Overspend
from leanops.cost.ledger import LedgerEntry
from leanops.cost.prices import Usage, from_micros, to_micros


class SqlCostRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _insert_new(self, table: Any, values: dict[str, Any], keys: list[str]) -> bool:
        """Insert unless a row with the same unique `keys` exists; True if it was inserted."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(*table.primary_key.columns)
        )
        # RETURNING, not rowcount: drivers report -1 for statements that return rows.
        return self.conn.execute(stmt).first() is not None

    # -- ledger -------------------------------------------------------------------------------

    def add(self, entry: LedgerEntry) -> bool:
        tags = entry.tags
        row = {
            "source": entry.source,
            "at": entry.at,
            "kind": str(entry.kind),
            "zone": tags.get("zone", ""),
            "project": tags.get("project", ""),
            "owner": tags.get("owner", ""),
            "model": tags.get("model", ""),
            "job_id": entry.refs.get("job_id"),
            "amount_micros": to_micros(entry.amount),
            "currency": entry.currency,
            "usage": entry.usage.model_dump(),
            "tags": tags,
            "refs": entry.refs,
            "untagged": entry.untagged,
            "recorded_at": entry.recorded_at,
            "recorded_by": entry.recorded_by,
        }
        return self._insert_new(ledger, row, ["source"])

    def entries(
        self,
        start: datetime,
        end: datetime,
        *,
        zone: str | None = None,
        project: str | None = None,
        kind: str | None = None,
        model: str | None = None,
    ) -> list[LedgerEntry]:
        q = select(ledger).where(self._within(start, end, zone, project))
        for column, value in ((ledger.c.kind, kind), (ledger.c.model, model)):
            if value is not None:
                q = q.where(column == value)
        return [_entry(r) for r in self.conn.execute(q.order_by(ledger.c.at, ledger.c.id)).mappings()]

    def total(self, start: datetime, end: datetime, *, zone: str | None = None, project: str | None = None) -> Decimal:
        q = select(func.coalesce(func.sum(ledger.c.amount_micros), 0)).where(self._within(start, end, zone, project))
        return from_micros(int(self.conn.execute(q).scalar_one()))

    @staticmethod
    def _within(start: datetime, end: datetime, zone: str | None, project: str | None) -> Any:
        clauses = [ledger.c.at >= start, ledger.c.at < end]
        if zone is not None:
            clauses.append(ledger.c.zone == zone)
        if project is not None:
            clauses.append(ledger.c.project == project)
        return and_(*clauses)

    def entries_for_model(self, model: str, run_ids: Iterable[str]) -> list[LedgerEntry]:
        """Entries tagged with the model, or charged to the jobs that trained its versions."""
        cond = ledger.c.model == model
        run_ids = [r for r in run_ids if r]
        if run_ids:
            trained = select(jobs.c.id).where(jobs.c.run_id.in_(run_ids))
            cond = cond | ledger.c.job_id.in_(trained)
        q = select(ledger).where(cond).order_by(ledger.c.at, ledger.c.id)
        return [_entry(r) for r in self.conn.execute(q).mappings()]

    def charged_for_jobs(self, job_ids: list[str]) -> dict[str, Decimal]:
        if not job_ids:
            return {}
        q = (
            select(ledger.c.job_id, func.sum(ledger.c.amount_micros))
            .where(ledger.c.job_id.in_(job_ids))
            .group_by(ledger.c.job_id)
        )
        return {job_id: from_micros(int(total)) for job_id, total in self.conn.execute(q)}

    def existing_sources(self, sources: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(sources), 500):
            chunk = sources[i : i + 500]
            found |= set(self.conn.execute(select(ledger.c.source).where(ledger.c.source.in_(chunk))).scalars())
        return found

    def last_at(self, kind: str) -> datetime | None:
        return self.conn.execute(select(func.max(ledger.c.at)).where(ledger.c.kind == kind)).scalar_one_or_none()

    def unmetered_attempts(self, limit: int = 1000) -> list[tuple[Any, Any]]:
        """Ended job attempts with no ledger entry yet (their runner had no cost wiring, or died)."""
        from leanops.jobs.models import AttemptRecord, JobRecord, Metering

        source = literal("job_attempt:") + job_attempts.c.job_id + literal(":") + cast(job_attempts.c.n, String)
        q = (
            select(job_attempts, jobs)
            .join(jobs, jobs.c.id == job_attempts.c.job_id)
            .where(
                job_attempts.c.ended_at.is_not(None),
                job_attempts.c.status != "running",
                ~exists().where(ledger.c.source == source),
            )
            .order_by(job_attempts.c.ended_at)
            .limit(limit)
        )
        out = []
        job_cols = {c.name for c in jobs.c}
        for row in self.conn.execute(q):
            data = row._mapping
            attempt = {c.name: data[job_attempts.c[c.name]] for c in job_attempts.c}
            metering = Metering(**{k: attempt.pop(k) for k in ("wall_seconds", "cpu_seconds", "peak_rss_bytes")})
            job = JobRecord(**{c: data[jobs.c[c]] for c in job_cols})
            out.append((job, AttemptRecord(**attempt, metering=metering)))
        return out

    # -- budgets ------------------------------------------------------------------------------

    def get_budget(self, key: str) -> Budget | None:
        row = self.conn.execute(select(budgets).where(budgets.c.key == key)).mappings().first()
        return _budget(row) if row else None

    def budgets(self) -> list[Budget]:
        return [_budget(r) for r in self.conn.execute(select(budgets).order_by(budgets.c.key)).mappings()]

    def put_budget(self, budget: Budget) -> None:
        row = {
            "key": budget.key,
            "zone": str(budget.zone),
            "project": budget.project,
            "monthly_micros": to_micros(budget.monthly),
            "currency": budget.currency,
            "owner": budget.owner,
            "thresholds": budget.thresholds,
            "updated_at": budget.updated_at,
            "updated_by": budget.updated_by,
        }
        self.conn.execute(delete(budgets).where(budgets.c.key == budget.key))
        self.conn.execute(insert(budgets).values(**row))

    def fired(self, key: str, period: str) -> set[tuple[str, int]]:
        q = select(budget_alerts.c.basis, budget_alerts.c.percent).where(
            budget_alerts.c.budget == key, budget_alerts.c.period == period
        )
        return {(basis, int(percent)) for basis, percent in self.conn.execute(q)}

    def fire(self, key: str, period: str, crossing: Crossing, at: datetime) -> bool:
        """Remember a crossing; False if it had fired already (another process got there first)."""
        row = {
            "budget": key,
            "period": period,
            "basis": str(crossing.basis),
            "percent": crossing.percent,
            "value_micros": to_micros(crossing.value),
            "limit_micros": to_micros(crossing.limit),
            "fired_at": at,
        }
        return self._insert_new(budget_alerts, row, ["budget", "period", "basis", "percent"])

    def unfire(self, key: str, period: str, crossings: Iterable[tuple[str, int]]) -> None:
        for basis, percent in crossings:
            self.conn.execute(
                delete(budget_alerts).where(
                    budget_alerts.c.budget == key,
                    budget_alerts.c.period == period,
                    budget_alerts.c.basis == basis,
                    budget_alerts.c.percent == percent,
                )
            )

    def alerts(self, key: str, period: str) -> list[dict[str, Any]]:
        q = (
            select(budget_alerts)
            .where(budget_alerts.c.budget == key, budget_alerts.c.period == period)
            .order_by(budget_alerts.c.fired_at, budget_alerts.c.id)
        )
        return [
            {
                "basis": r["basis"],
                "percent": r["percent"],
                "value": from_micros(r["value_micros"]),
                "fired_at": r["fired_at"],
            }
            for r in self.conn.execute(q).mappings()
        ]

    def add_overspend(self, overspend: Overspend) -> None:
        row = overspend.model_dump(exclude={"amount"}) | {"amount_micros": to_micros(overspend.amount)}
        self.conn.execute(insert(budget_overspends).values(**row))

    def overspends(self, key: str, period: str) -> list[Overspend]:
        q = (
            select(budget_overspends)
            .where(budget_overspends.c.budget == key, budget_overspends.c.period == period)
            .order_by(budget_overspends.c.approved_at)
        )
        return [
            Overspend(**{k: v for k, v in r.items() if k != "amount_micros"}, amount=from_micros(r["amount_micros"]))
            for r in self.conn.execute(q).mappings()
        ]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        usage=Usage(**row["usage"]),
        amount=from_micros(row["amount_micros"]),
        currency=row["currency"],
        tags=row["tags"],
        source=row["source"],
        refs=row["refs"],
        untagged=row["untagged"],
        recorded_at=row["recorded_at"],
        recorded_by=row["recorded_by"],
    )


def _budget(row: Any) -> Budget:
    return Budget(
        zone=row["zone"],
        project=row["project"],
        monthly=from_micros(row["monthly_micros"]),
        owner=row["owner"],
        thresholds=row["thresholds"],
        currency=row["currency"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
        origin="store",
    )
