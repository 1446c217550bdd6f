"""Policy administration: time-boxed exceptions, explaining decisions, documenting policy."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from leanops.errors import NotFound, PolicyDenied, ValidationError
from leanops.guard import Guard
from leanops.identity import PrincipalKind
from leanops.policy import (
    ACTIONS,
    PendingPermit,
    PolicyApproval,
    PolicyException,
    Resource,
    RetainedForbid,
    Role,
    activated,
    retirement,
)
from leanops.zones import Zone

MAX_EXCEPTION = timedelta(days=30)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'250ms', '0.5s', '30m', '8h', '7d', '2w' → timedelta; anything else is a `ValidationError`.

    The one duration parser: job specs, config and CLI options all come through here, and each
    caller keeps its own minimum (a token lifetime of half a second is still refused there).
    """
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) == 0:
        raise ValidationError(
            f"{text!r} is not a duration.", hint="Use a number and a unit: 250ms, 0.5s, 90s, 30m, 8h, 7d, 2w."
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


class Governance:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def grant_exception(
        self,
        principal: str,
        action: str,
        *,
        resource: str = "*",
        zone: Zone | None = None,
        expires: timedelta,
        reason: str,
    ) -> PolicyException:
        """An admin's waiver for one principal and action, expiring by itself; never for oneself.

        Four-eyes and sensitive-data rules (`NON_WAIVABLE`) stay in force whatever is granted.
        """
        if action not in ACTIONS:
            raise ValidationError(f"Unknown action {action!r}.", hint="Known actions: " + ", ".join(sorted(ACTIONS)))
        if not reason.strip():
            raise ValidationError("An exception needs a reason.", hint="Say why with --reason.")
        if expires > MAX_EXCEPTION:
            raise ValidationError(
                f"Exceptions last at most {MAX_EXCEPTION.days} days.",
                hint="Grant a shorter one; renew it if still needed.",
            )
        if principal == self._guard.actor.name:
            self._guard.refuse(
                "policy.exception",
                Resource(type="Policy", id="exception:self"),
                gate="four-eyes",
                details={"op": "grant", "principal": principal, "action": action},
            )
            raise PolicyDenied(
                f"{principal} may not grant an exception to themself.",
                hint="Ask another admin to grant it; an exception always needs someone other than its beneficiary.",
            )
        now = self._guard.clock.now()
        waiver = PolicyException(
            id=secrets.token_hex(6),
            principal=principal,
            action=action,
            resource=resource,
            zone=zone,
            reason=reason,
            granted_by=self._guard.actor.name,
            created_at=now,
            expires_at=now + expires,
        )
        details = {"op": "grant", **waiver.model_dump(mode="json")}
        with self._guard.act(
            "policy.exception", Resource(type="Policy", id=f"exception:{waiver.id}"), details=details
        ) as unit:
            unit.exceptions.add(waiver)
        return waiver

    def exceptions(self) -> list[PolicyException]:
        with self._guard.act("policy.read", Resource(type="Policy", id="exceptions")) as unit:
            return unit.exceptions.list()

    def revoke_exception(self, exc_id: str) -> None:
        with self._guard.act(
            "policy.exception", Resource(type="Policy", id=f"exception:{exc_id}"), details={"op": "revoke"}
        ) as unit:
            if unit.exceptions.get(exc_id) is None:
                raise NotFound(f"No policy exception {exc_id!r}.", hint="`leanops policy exception list` shows them.")
            unit.exceptions.revoke(exc_id, self._guard.clock.now())

    def pending_permits(self) -> list[PendingPermit]:
        """Project permits in the policy files that do not take effect until approved."""
        return list(getattr(self._guard.engine, "pending", []))

    def retained_forbids(self) -> list[RetainedForbid]:
        """Project forbids removed from (or edited in) the files that stay in force until approved."""
        return list(getattr(self._guard.engine, "retained", []))

    def approve_change(self, policy_id: str) -> tuple[PendingPermit | RetainedForbid, bool]:
        """One person's approval of a change that widens access — a pending permit's exact text, or
        the removal of a retained forbid; (the change, now in effect).

        Two different people must approve, one of them an admin; a service account's approval
        counts for nothing. It takes effect from the next workspace opened.
        """
        change: PendingPermit | RetainedForbid | None = next(
            (p for p in self.pending_permits() if p.id == policy_id), None
        )
        key = change.hash if change else None
        if change is None and (change := next((f for f in self.retained_forbids() if f.id == policy_id), None)):
            key = retirement(change.hash)
        if change is None or key is None:
            raise NotFound(
                f"No pending permit or retained forbid {policy_id!r}.",
                hint="`leanops policy status` lists the changes awaiting approval.",
            )
        actor = self._guard.actor
        op = "approve" if isinstance(change, PendingPermit) else "approve-removal"
        details = {"op": op, "policy": change.id, "file": change.file, "hash": change.hash}
        with self._guard.act("policy.approve", Resource(type="Policy", id=change.id), details=details) as unit:
            if actor.kind is PrincipalKind.SERVICE:
                raise PolicyDenied("A service account cannot approve a policy.", hint="Ask an admin and an approver.")
            unit.policies.approve(
                PolicyApproval(
                    hash=key,
                    approver=actor.name,
                    admin=Role.ADMIN in actor.roles_in(self._guard.zone),
                    at=self._guard.clock.now(),
                )
            )
            active = key in activated(unit.policies.approvals())
            details["active"] = active
        return change, active
