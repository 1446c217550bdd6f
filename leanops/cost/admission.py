"""Admission: may a job start, given what it reserves and what its budgets have left?

A job reserves its declared resources for its whole deadline (`resources × deadline × price`),
the most it can cost. What a budget has left is its monthly amount less this month's actual
spend and less what jobs already running still hold in reserve, so two jobs admitted side by
side cannot both spend the last dollar. Zones with a hard ceiling refuse a job that does not
fit; other zones (production) admit it only within an approved overspend.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from leanops.cost.budgets import Budget
from leanops.cost.prices import money, show


class Room(BaseModel):
    """What one budget has left this month for a new job."""

    budget: str
    monthly: Decimal
    spent: Decimal
    committed: Decimal = Field(description="Still reserved by jobs already queued or running")
    overspend: Decimal = Field(Decimal(0), description="Approved spend past the budget this month")
    hard_ceiling: bool = False

    @property
    def left(self) -> Decimal:
        return money(self.monthly + self.overspend - self.spent - self.committed)


class Decision(BaseModel):
    admitted: bool
    reserved: Decimal
    rooms: list[Room] = Field(default_factory=list)
    blocking: Room | None = None

    def reason(self, currency: str, what: str) -> str:
        room = self.blocking
        if room is None:
            return f"{what} reserves {show(self.reserved)} {currency}: within every budget."
        left = max(room.left, Decimal(0))
        parts = [f"spent {show(room.spent)}"]
        if room.committed:
            parts.append(f"{show(room.committed)} reserved by jobs still running")
        if room.overspend:
            parts.append(f"{show(room.overspend)} approved overspend")
        return (
            f"{what} reserves {show(self.reserved)} {currency} but only {show(left)} of the {room.budget} budget "
            f"of {show(room.monthly)} is left this month ({', '.join(parts)})."
        )


def decide(reserved: Decimal, rooms: list[Room]) -> Decision:
    """Admit when the reservation fits every budget covering the job; else name the tightest."""
    short = [r for r in rooms if reserved > r.left]
    blocking = min(short, key=lambda r: r.left) if short else None
    return Decision(admitted=blocking is None, reserved=money(reserved), rooms=rooms, blocking=blocking)


def covering(budgets: list[Budget], zone: str, project: str) -> list[Budget]:
    return [b for b in budgets if b.covers({"zone": zone, "project": project})]
