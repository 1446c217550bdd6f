"""Alerts: tiers, Prometheus-style rule semantics, and what every alert must say.

A check yields an `Observation` each time monitoring evaluates it: breached or not, with the
value, the threshold and the window. `step` turns the previous state of that (model, zone,
check, tier) and the new observation into the next state and the events to send:

- info fires at once and goes to the digest (no page);
- warning is *pending* until its condition has held for its `for:` period, then fires;
- critical fires at once (and, where the model's policy allows, the caller rolls back);
- a firing alert is not sent again while the condition holds (deduplication); when it clears
  it resolves, with a resolved message; a pending alert that clears is simply dropped;
- while a critical fires for a model and zone, its warnings are kept but not sent.

Every alert answers what happened (check, value, threshold, window, version, zone), why it
matters, what to do next, and links its runbook. Pure: no storage, no clock of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from leanops.zones import Zone


class Tier(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class State(StrEnum):
    PENDING = "pending"  # breached, not yet for long enough (warning)
    FIRING = "firing"
    RESOLVED = "resolved"


class Observation(BaseModel):
    """One evaluation of one check against one threshold."""

    check: str
    tier: Tier
    breached: bool
    value: float | None = Field(None, description="None: no data in the window, never a breach")
    threshold: float
    op: str = ">="
    window: str = Field(description="What was looked at, e.g. 'last 1h, 1,204 predictions'")
    version: int
    why: str = Field(description="Why it matters, from the monitoring config")
    next_steps: str = Field(description="What the responder should do next")
    runbook: str = ""
    for_seconds: float = 0.0


class Alert(BaseModel):
    id: str
    model: str
    zone: Zone
    version: int
    check: str
    tier: Tier
    state: State
    value: float | None
    threshold: float
    op: str
    window: str
    why: str
    next_steps: str
    runbook: str
    since: datetime = Field(description="When the condition was first seen breached")
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    evaluated_at: datetime
    acked_by: str | None = None
    acked_at: datetime | None = None
    rollback: dict[str, Any] | None = Field(None, description="The automatic rollback a critical alert made")

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, str(self.zone), self.check, str(self.tier))

    @property
    def active(self) -> bool:
        return self.state is not State.RESOLVED

    def what_happened(self) -> str:
        value = "no data" if self.value is None else f"{self.value:.4g}"
        return (
            f"{self.check} = {value} (threshold {self.op} {self.threshold:g}) over {self.window}, "
            f"{self.model} v{self.version} in {self.zone}"
        )

    def text(self) -> str:
        """The three answers and the runbook, as a notifier body."""
        lines = [
            f"What happened: {self.what_happened()}.",
            f"Why it matters: {self.why}",
            f"What to do: {self.next_steps}",
        ]
        if self.runbook:
            lines.append(f"Runbook: {self.runbook}")
        if self.rollback:
            lines.append(f"Rolled back: {self.rollback}")
        return "\n".join(lines)


class Event(BaseModel):
    kind: str  # fire | resolve
    alert: Alert
    send: bool = Field(True, description="False for info (digest only) and suppressed warnings")


def step(
    previous: Alert | None, seen: Observation, *, model: str, zone: Zone, now: datetime
) -> tuple[Alert | None, list[Event]]:
    """The next state of one alert and the events to send; `previous` is its last active state."""
    if not seen.breached:
        if previous is None or previous.state is State.PENDING:
            return None, []  # nothing fired, nothing to resolve
        resolved = previous.model_copy(
            update={"state": State.RESOLVED, "resolved_at": now, "evaluated_at": now, "value": seen.value}
        )
        return resolved, [Event(kind="resolve", alert=resolved, send=resolved.tier is not Tier.INFO)]
    if previous is not None:
        updated = previous.model_copy(update={"value": seen.value, "window": seen.window, "evaluated_at": now})
        if previous.state is State.FIRING:
            return updated, []  # deduplicated: it is already out
        return _maybe_fire(updated, seen, now)
    alert = Alert(
        id=uuid.uuid4().hex,
        model=model,
        zone=zone,
        version=seen.version,
        check=seen.check,
        tier=seen.tier,
        state=State.PENDING,
        value=seen.value,
        threshold=seen.threshold,
        op=seen.op,
        window=seen.window,
        why=seen.why,
        next_steps=seen.next_steps,
        runbook=seen.runbook,
        since=now,
        evaluated_at=now,
    )
    return _maybe_fire(alert, seen, now)


def _maybe_fire(alert: Alert, seen: Observation, now: datetime) -> tuple[Alert, list[Event]]:
    held = now - alert.since >= timedelta(seconds=seen.for_seconds)
    if alert.tier is Tier.WARNING and not held:
        return alert, []
    fired = alert.model_copy(update={"state": State.FIRING, "fired_at": now})
    return fired, [Event(kind="fire", alert=fired, send=fired.tier is not Tier.INFO)]


def suppress(events: list[Event], active: list[Alert]) -> list[Event]:
    """Mark warnings of a model and zone with a firing critical as not to be sent."""
    critical = {(a.model, str(a.zone)) for a in active if a.tier is Tier.CRITICAL and a.state is State.FIRING}
    critical |= {
        (e.alert.model, str(e.alert.zone)) for e in events if e.kind == "fire" and e.alert.tier is Tier.CRITICAL
    }
    return [
        e.model_copy(update={"send": False})
        if e.alert.tier is Tier.WARNING and (e.alert.model, str(e.alert.zone)) in critical
        else e
        for e in events
    ]


class AlertRepo(Protocol):
    """Where alerts live (`unit.alerts`)."""

    def save(self, alert: Alert) -> None: ...
    def get(self, alert_id: str) -> Alert | None: ...
    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]: ...
    def list(
        self, *, model: str | None = None, zone: str | None = None, active: bool | None = None, limit: int = 200
    ) -> list[Alert]: ...
    def update(self, alert_id: str, **values: Any) -> None: ...
