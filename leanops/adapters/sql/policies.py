"""Approvals of project permits in SQL: who vouched for which statement's exact text."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from leanops.adapters.sql.tables import policy_approvals
from leanops.policy import PolicyApproval


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
