"""Project policy changes in SQL: who vouched for which statement's exact text, and every
project forbid ever in force."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from leanops.adapters.sql.tables import policy_approvals, policy_forbids
from leanops.policy import PolicyApproval, RetainedForbid


class SqlPolicyApprovalRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def approve(self, approval: PolicyApproval) -> bool:
        """Record one person's approval; False if they had approved this text already."""
        t = policy_approvals.c
        seen = select(t.id).where(t.hash == approval.hash, t.change == "activate", t.approver == approval.approver)
        if self.conn.execute(seen).first():
            return False
        self.conn.execute(insert(policy_approvals).values(change="activate", **approval.model_dump(mode="python")))
        return True

    def approvals(self) -> list[PolicyApproval]:
        rows = self.conn.execute(select(policy_approvals).order_by(policy_approvals.c.id)).mappings()
        return [PolicyApproval(hash=r.hash, approver=r.approver, admin=r.admin, at=r.at) for r in rows]

    def known_forbids(self) -> list[RetainedForbid]:
        rows = self.conn.execute(select(policy_forbids).order_by(policy_forbids.c.seen_at)).mappings()
        return [RetainedForbid(id=r.policy_id, file=r.file, hash=r.hash, text=r.text) for r in rows]

    def remember_forbids(self, forbids: list[RetainedForbid], at: datetime) -> int:
        """Record forbids not seen before; how many were new."""
        known = set(self.conn.execute(select(policy_forbids.c.hash)).scalars())
        new = [f for f in {f.hash: f for f in forbids}.values() if f.hash not in known]
        for f in new:
            self.conn.execute(
                insert(policy_forbids).values(hash=f.hash, policy_id=f.id, file=f.file, text=f.text, seen_at=at)
            )
        return len(new)
