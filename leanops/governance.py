"""Policy administration: time-boxed exceptions, explaining decisions, documenting policy."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from leanops.errors import NotFound, ValidationError
from leanops.guard import Guard
from leanops.policy import ACTIONS, PolicyException, Resource
from leanops.zones import Zone

MAX_EXCEPTION = timedelta(days=30)
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'30m', '8h', '7d', '2w' → timedelta; anything else is a `ValidationError`."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValidationError(f"{text!r} is not a duration.", hint="Use a number and a unit: 90s, 30m, 8h, 7d, 2w.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


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
        """An admin's waiver for one principal and action, expiring by itself."""
        if action not in ACTIONS:
            raise ValidationError(f"Unknown action {action!r}.", hint="Known actions: " + ", ".join(sorted(ACTIONS)))
        if not reason.strip():
            raise ValidationError("An exception needs a reason.", hint="Say why with --reason.")
        if expires > MAX_EXCEPTION:
            raise ValidationError(
                f"Exceptions last at most {MAX_EXCEPTION.days} days.",
                hint="Grant a shorter one; renew it if still needed.",
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
