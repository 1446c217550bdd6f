"""What one service tells the others, so none of them holds a reference to another.

    bus = EventBus()
    bus.subscribe(AttemptEnded, cost.on_attempt_ended)
    bus.publish(AttemptEnded(job, attempt))       # cost charges the attempt

Delivery is synchronous, in subscription order, and a handler's exception reaches the
publisher: that is how admission refuses a job inside the submitter's transaction, before
anything is recorded. A bus nobody listens on is a no-op, so each service works without one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from leanops.jobs.models import AttemptRecord, JobRecord
    from leanops.ports import Unit
    from leanops.registry.models import Evidence
    from leanops.runs.models import RunRecord

E = TypeVar("E")


@dataclass(frozen=True)
class JobAdmitting:
    """A job is about to be recorded in `unit`; a handler refuses it by raising (`BudgetExceeded`)."""

    job: JobRecord
    unit: Unit


@dataclass(frozen=True)
class AttemptEnded:
    """A job attempt ended and its metering is recorded."""

    job: JobRecord
    attempt: AttemptRecord


@dataclass(frozen=True)
class EvaluationDone:
    """Release evidence was stored; gathering it took `seconds` of wall time."""

    evidence: Evidence
    run: RunRecord
    seconds: float


@dataclass(frozen=True)
class CeilingReached:
    """A hard-ceiling budget is spent while `job_id`, which it covers, is queued or running.

    The handler stops the job; it raises `Conflict` if the job ended meanwhile.
    """

    budget: str
    job_id: str


class EventBus:
    """Synchronous publish/subscribe by event type."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type, list[Callable[[Any], object]]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], object]) -> None:
        self._handlers[event_type].append(handler)

    def handles(self, event_type: type) -> bool:
        """Whether anyone listens for `event_type`."""
        return bool(self._handlers.get(event_type))

    def publish(self, event: object) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            handler(event)
