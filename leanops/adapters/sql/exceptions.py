"""Time-boxed policy exceptions in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from leanops.adapters.sql.tables import policy_exceptions
from leanops.policy import PolicyException


class SqlExceptionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, exc: PolicyException) -> None:
        self.conn.execute(insert(policy_exceptions).values(**exc.model_dump(mode="python")))

    def get(self, exc_id: str) -> PolicyException | None:
        row = self.conn.execute(select(policy_exceptions).where(policy_exceptions.c.id == exc_id)).mappings().first()
        return PolicyException(**row) if row else None

    def list(self) -> list[PolicyException]:
        rows = self.conn.execute(select(policy_exceptions).order_by(policy_exceptions.c.created_at)).mappings()
        return [PolicyException(**r) for r in rows]

    def active_for(self, principal: str, now: datetime) -> list[PolicyException]:
        t = policy_exceptions.c
        q = select(policy_exceptions).where(t.principal == principal, t.revoked_at.is_(None), t.expires_at > now)
        return [PolicyException(**r) for r in self.conn.execute(q).mappings()]

    def revoke(self, exc_id: str, at: datetime) -> None:
        self.conn.execute(update(policy_exceptions).where(policy_exceptions.c.id == exc_id).values(revoked_at=at))
