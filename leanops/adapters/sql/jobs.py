"""Jobs and their attempts in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from leanops.adapters.sql.tables import job_attempts, jobs
from leanops.jobs.models import ACTIVE, AttemptRecord, JobRecord, Metering

_METERING = ("wall_seconds", "cpu_seconds", "peak_rss_bytes")


class SqlJobRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, job: JobRecord) -> None:
        self.conn.execute(insert(jobs).values(**_job_row(job)))

    def get(self, job_id: str) -> JobRecord | None:
        row = self.conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            return None
        job = JobRecord(**dict(row))
        job.attempt_records = self.attempts(job_id)
        return job

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        q = select(jobs.c.id).where(jobs.c.id.startswith(prefix, autoescape=True)).limit(limit)
        return list(self.conn.execute(q).scalars())

    def list(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        name: str | None = None,
        sweep_id: str | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        q = select(jobs)
        for column, value in (
            (jobs.c.status, status),
            (jobs.c.owner, owner),
            (jobs.c.name, name),
            (jobs.c.sweep_id, sweep_id),
        ):
            if value is not None:
                q = q.where(column == value)
        q = q.order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        return [JobRecord(**dict(r)) for r in self.conn.execute(q).mappings()]

    def active(self) -> list[JobRecord]:
        q = select(jobs).where(jobs.c.status.in_([str(s) for s in ACTIVE]))
        return [JobRecord(**dict(r)) for r in self.conn.execute(q).mappings()]

    def count_active(self, zone: str) -> int:
        q = (
            select(func.count())
            .select_from(jobs)
            .where(and_(jobs.c.zone == zone, jobs.c.status.in_([str(s) for s in ACTIVE])))
        )
        return int(self.conn.execute(q).scalar_one())

    def update(self, job_id: str, **values: Any) -> None:
        if "status" in values:
            values["status"] = str(values["status"])
        self.conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def request_cancel(self, job_id: str, at: datetime) -> None:
        self.conn.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.cancel_requested_at.is_(None)).values(cancel_requested_at=at)
        )

    def cancel_requested(self, job_id: str) -> bool:
        q = select(jobs.c.cancel_requested_at).where(jobs.c.id == job_id)
        return self.conn.execute(q).scalar_one_or_none() is not None

    def add_attempt(self, attempt: AttemptRecord) -> None:
        self.conn.execute(insert(job_attempts).values(**_attempt_row(attempt)))

    def save_attempt(self, attempt: AttemptRecord) -> None:
        row = _attempt_row(attempt)
        key = (job_attempts.c.job_id == attempt.job_id) & (job_attempts.c.n == attempt.n)
        self.conn.execute(update(job_attempts).where(key).values(**row))

    def attempts(self, job_id: str) -> list[AttemptRecord]:
        q = select(job_attempts).where(job_attempts.c.job_id == job_id).order_by(job_attempts.c.n)
        return [_attempt(r) for r in self.conn.execute(q).mappings()]

    def attempts_of(self, job_ids: list[str]) -> list[AttemptRecord]:
        """Attempts of many jobs (the cost ledger's input), in job then attempt order."""
        if not job_ids:
            return []
        q = (
            select(job_attempts)
            .where(job_attempts.c.job_id.in_(job_ids))
            .order_by(job_attempts.c.job_id, job_attempts.c.n)
        )
        return [_attempt(r) for r in self.conn.execute(q).mappings()]


def _job_row(job: JobRecord) -> dict[str, Any]:
    row = job.model_dump(exclude={"attempt_records"})
    row["status"] = str(job.status)
    return row


def _attempt_row(attempt: AttemptRecord) -> dict[str, Any]:
    row = attempt.model_dump(exclude={"metering"})
    row |= attempt.metering.model_dump()
    return row


def _attempt(row: Any) -> AttemptRecord:
    data = dict(row)
    metering = Metering(**{k: data.pop(k) for k in _METERING})
    return AttemptRecord(**data, metering=metering)
