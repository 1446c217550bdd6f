"""The one wiring every read and write passes through.

    authenticate → policy decision (+ time-boxed exceptions) → action → audit record

`Guard.act` opens the transaction the action runs in and appends the audit record to that
same transaction, so a change and its record commit together or not at all. A refused
action is recorded too (in a transaction of its own) and raises `PolicyDenied`; so is an
allowed action whose body failed (its change rolled back, its attempt kept).

Facts a caller must not be able to assert about itself (whether the actor is cleared for the
data, whether an approver is independent of the owner) are computed here, from the actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from leanops.audit import AuditEntry, ChainHead, Checkpoint, Checkpointer, redact
from leanops.errors import PolicyDenied
from leanops.identity import Actor, independent_of
from leanops.policy import (
    ACTIONS,
    NON_WAIVABLE,
    PolicyDecision,
    PolicyEngine,
    PolicyException,
    PolicyRequest,
    Resource,
)
from leanops.ports import Clock, MetadataStore, Unit
from leanops.zones import Zone


def retrying_races(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run an action again when a concurrent writer won its key or number (a `WriteRace`).

    Each attempt is a whole, fresh action, so a retry decides on what the winner committed.
    """
    from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

    from leanops.errors import WriteRace

    return retry(
        retry=retry_if_exception_type(WriteRace),
        stop=stop_after_attempt(8),
        wait=wait_random(0.01, 0.2),
        reraise=True,
    )(fn)


# A rule every allowed action must also pass (a naming convention, say); it raises to refuse.
Check = Callable[[str, Resource, Zone], None]


class Guard:
    """Decides, runs and records actions for one authenticated actor."""

    def __init__(
        self,
        store: MetadataStore,
        engine: PolicyEngine,
        clock: Clock,
        actor: Actor,
        *,
        zone: Zone = Zone.SANDBOX,
        escalation: str = "",
        request_id: str | None = None,
        checks: Sequence[Check] = (),
        checkpointer: Checkpointer,
    ) -> None:
        self._store = store
        self.engine = engine
        self.clock = clock
        self.actor = actor
        self.zone = zone
        self.escalation = escalation
        self.request_id = request_id or uuid.uuid4().hex
        self.checks = tuple(checks)
        self.checkpointer = checkpointer

    @property
    def audit_key(self) -> bytes:
        return self.checkpointer.key

    def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Anchor the committed head outside the database (throttled unless forced)."""

        def read_head() -> ChainHead:
            with self._store.transaction() as unit:
                return unit.audit.head()

        if force:
            return self.checkpointer.checkpoint(read_head)
        self.checkpointer.after_commit(read_head)
        return None

    def note_bundle(self) -> None:
        """Audit a change of the effective policy bundle, once, by whoever first acts under it."""
        from leanops.audit import AuditFilter

        bundle = getattr(self.engine, "bundle_hash", "")
        resource = Resource(type="Policy", id="bundle")
        with self._store.transaction() as unit:
            last = unit.audit.query(AuditFilter(resource=resource.ref, limit=1))
            previous = last[0].details.get("bundle") if last else None
            if previous == bundle:
                return
            pending = [p.id for p in getattr(self.engine, "pending", [])]
            details = {"bundle": bundle, "previous": previous, "pending_permits": pending}
            changed = PolicyDecision(allowed=True, policy_ids=["bundle:changed"])
            unit.audit.append(self._entry("policy.activate", resource, self.zone, changed, details), self.audit_key)
        self.checkpoint()

    def lookup(self) -> AbstractContextManager[Unit]:
        """A transaction for a service's own look-ups before it acts; never handed to callers."""
        return self._store.transaction()

    def decide(
        self,
        action: str,
        resource: Resource,
        zone: Zone,
        context: dict[str, Any] | None = None,
        unit: Unit | None = None,
    ) -> PolicyDecision:
        """The policy's answer, with an active exception turning a waivable refusal into an allow."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: add it to leanops.policy.ACTION_GROUPS")
        if unit is None:
            with self._store.transaction() as own:
                return self.decide(action, resource, zone, context, own)
        context = dict(context or {})
        context["cleared"] = self.actor.cleared_for(str(context.get("data_class", "none")), zone)
        context["independent_approver"] = action == "model.approve" and independent_of(
            unit.identity, self.actor, resource.owner, zone
        )
        request = PolicyRequest(
            principal=self.actor.name,
            roles=self.actor.roles_in(zone),
            action=action,
            resource=resource,
            zone=zone,
            context=context,
        )
        decision = self.engine.decide(request)
        if decision.allowed or NON_WAIVABLE.intersection(decision.policy_ids):
            return decision
        waiver = self._exception_for(request, unit)
        if waiver:
            return PolicyDecision(allowed=True, policy_ids=[*decision.policy_ids, f"exception:{waiver.id}"])
        return decision

    def _exception_for(self, request: PolicyRequest, unit: Unit) -> PolicyException | None:
        now = self.clock.now()
        waivers = unit.exceptions.active_for(request.principal, now)
        # A waiver its beneficiary granted themself never counts, whoever wrote it into the store.
        return next((e for e in waivers if e.covers(request, now) and e.granted_by != e.principal), None)

    @contextmanager
    def act(
        self,
        action: str,
        resource: Resource,
        *,
        zone: Zone | None = None,
        context: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Iterator[Unit]:
        """Run the body of an action inside its transaction, if policy allows; audit either way.

        The body may add to `details` (e.g. the id it created) before the record is written.
        """
        zone = Zone(zone or self.zone)
        details = details if details is not None else {}
        try:
            with self._store.transaction() as unit:
                decision = self.decide(action, resource, zone, context, unit)
                if decision.allowed:
                    for check in self.checks:
                        check(action, resource, zone)
                    yield unit
                    unit.audit.append(self._entry(action, resource, zone, decision, details), self.audit_key)
            if decision.allowed:
                self.checkpoint()
                return
        except Exception as exc:
            self._record_failure(action, resource, zone, details, exc)
            raise
        self._record(action, resource, zone, decision, details)
        roles = ", ".join(self.actor.roles_in(zone)) or "no role"
        by = ", ".join(decision.policy_ids) or "no policy permits it (deny by default)"
        raise PolicyDenied(
            f"{self.actor.name} ({roles} in {zone}) may not {action} {resource.ref}: denied by {by}.",
            hint=self.escalation or None,
            action=action,
            resource=resource.ref,
            zone=str(zone),
            policy_ids=decision.policy_ids,
        )

    def check(
        self,
        action: str,
        resource: Resource,
        *,
        zone: Zone | None = None,
        context: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Decide and audit an action that changes nothing in the store (a read, a gate)."""
        with self.act(action, resource, zone=zone, context=context, details=details):
            pass

    def refuse(
        self,
        action: str,
        resource: Resource,
        *,
        gate: str,
        zone: Zone | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Audit a refusal by a gate beyond the policy (evidence, integrity); the caller then raises.

        The record reads like a policy denial, decided by `gate:<name>`, so `audit query --decision deny`
        shows every refused release, not only the ones Cedar refused.
        """
        denied = PolicyDecision(allowed=False, policy_ids=[f"gate:{gate}"])
        self._record(action, resource, Zone(zone or self.zone), denied, details or {})

    def _record(
        self, action: str, resource: Resource, zone: Zone, decision: PolicyDecision, details: dict[str, Any]
    ) -> None:
        """An audit record in a transaction of its own (a refusal, a failed attempt)."""
        with self._store.transaction() as unit:
            unit.audit.append(self._entry(action, resource, zone, decision, details), self.audit_key)
        self.checkpoint()

    def _record_failure(
        self, action: str, resource: Resource, zone: Zone, details: dict[str, Any], exc: Exception
    ) -> None:
        """Keep the attempt of an action whose body raised; its change has rolled back."""
        from leanops.errors import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            return  # nowhere to write it; the error itself reaches the caller
        failed = {**details, "outcome": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
        attempt = PolicyDecision(allowed=True, policy_ids=["outcome:failed"])
        with suppress(Exception):  # the original error is the one to report
            self._record(action, resource, zone, attempt, failed)

    def _entry(
        self, action: str, resource: Resource, zone: Zone, decision: PolicyDecision, details: dict[str, Any]
    ) -> AuditEntry:
        return AuditEntry(
            at=self.clock.now(),
            actor=self.actor.name,
            action=action,
            resource=resource.ref,
            zone=str(zone),
            decision="allow" if decision.allowed else "deny",
            policy_ids=decision.policy_ids,
            request_id=self.request_id,
            details=redact(details),
            policy_bundle=getattr(self.engine, "bundle_hash", ""),
        )
