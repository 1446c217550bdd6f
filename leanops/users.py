"""Managing users, service accounts, role grants and tokens — every change through the guard."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from leanops.errors import Conflict, NotFound, PolicyDenied, ValidationError
from leanops.guard import Guard
from leanops.identity import (
    CLEARED_CLASSES,
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL,
    Clearance,
    Principal,
    PrincipalKind,
    RoleGrant,
    TokenRecord,
    check_name,
    mint_token,
)
from leanops.policy import Resource, Role
from leanops.zones import Zone


class IssuedToken(BaseModel):
    """A new token: `plaintext` is shown once and never stored."""

    record: TokenRecord
    plaintext: str


class UserService:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def add(
        self, name: str, *, kind: PrincipalKind = PrincipalKind.USER, roles: list[Role] = (), zone: Zone | None = None
    ) -> Principal:  # type: ignore[assignment]
        check_name(name)
        now = self._guard.clock.now()
        with self._guard.act(
            "user.manage",
            Resource(type="User", id=name),
            details={"op": "add", "kind": str(kind), "roles": [str(r) for r in roles]},
        ) as unit:
            if unit.identity.get_principal(name):
                raise Conflict(f"User {name!r} exists already.", hint="Use `leanops users grant` to change roles.")
            principal = Principal(name=name, kind=kind, created_at=now, created_by=self._guard.actor.name)
            unit.identity.add_principal(principal)
            for role in roles:
                unit.identity.add_grant(
                    RoleGrant(principal=name, role=role, zone=zone, granted_at=now, granted_by=self._guard.actor.name)
                )
        return principal

    def list(self) -> list[tuple[Principal, list[RoleGrant]]]:
        with self._guard.act("user.read", Resource(type="User", id="*")) as unit:
            grants = unit.identity.all_grants()
            return [(p, [g for g in grants if g.principal == p.name]) for p in unit.identity.list_principals()]

    def grant(self, name: str, role: Role, zone: Zone | None = None) -> bool:
        with self._guard.act(
            "user.manage", Resource(type="User", id=name), details={"op": "grant", "role": str(role), "zone": zone}
        ) as unit:
            self._require(unit, name)
            return unit.identity.add_grant(
                RoleGrant(
                    principal=name,
                    role=role,
                    zone=zone,
                    granted_at=self._guard.clock.now(),
                    granted_by=self._guard.actor.name,
                )
            )

    def revoke(self, name: str, role: Role, zone: Zone | None = None) -> None:
        with self._guard.act(
            "user.manage", Resource(type="User", id=name), details={"op": "revoke", "role": str(role), "zone": zone}
        ) as unit:
            self._require(unit, name)
            if not unit.identity.remove_grant(name, role, zone):
                where = f" in {zone}" if zone else " (all zones)"
                raise NotFound(f"{name} holds no {role} grant{where}.", hint="`leanops users list` shows the grants.")

    def clear(self, name: str, data_class: str = "sensitive", zone: Zone | None = None) -> bool:
        """Clear a principal for a data class in a zone (or all): who may read it, not where."""
        if data_class not in CLEARED_CLASSES:
            raise ValidationError(
                f"{data_class!r} data needs no clearance.", hint="Clearances exist for: " + ", ".join(CLEARED_CLASSES)
            )
        details = {"op": "clear", "data_class": data_class, "zone": zone}
        with self._guard.act("user.manage", Resource(type="User", id=name), details=details) as unit:
            self._require(unit, name)
            return unit.identity.add_clearance(
                Clearance(
                    principal=name,
                    data_class=data_class,
                    zone=zone,
                    granted_at=self._guard.clock.now(),
                    granted_by=self._guard.actor.name,
                )
            )

    def unclear(self, name: str, data_class: str = "sensitive", zone: Zone | None = None) -> None:
        details = {"op": "unclear", "data_class": data_class, "zone": zone}
        with self._guard.act("user.manage", Resource(type="User", id=name), details=details) as unit:
            if not unit.identity.remove_clearance(name, data_class, zone):
                where = f" in {zone}" if zone else " (all zones)"
                raise NotFound(
                    f"{name} holds no {data_class} clearance{where}.", hint="`leanops users list` shows them."
                )

    def create_token(
        self,
        principal: str | None = None,
        *,
        ttl: timedelta = DEFAULT_TOKEN_TTL,
        description: str = "",
        zones: list[Zone] | None = None,
    ) -> IssuedToken:
        """Mint a token for yourself (any role) or, as an admin, for another principal.

        A token can be limited to zones; whoever minted it is recorded, so a token the owner of a
        model minted never counts as a second pair of eyes on that model.
        """
        principal = principal or self._guard.actor.name
        if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
            raise ValidationError(
                f"Token lifetime {ttl} is out of range.", hint=f"Use between 1 minute and {MAX_TOKEN_TTL.days} days."
            )
        now = self._guard.clock.now()
        actor = self._guard.actor
        if actor.zones is not None:  # a scoped credential never mints a wider or longer one
            zones = zones or actor.zones
            if not set(zones) <= set(actor.zones) or (actor.token_expires_at and now + ttl > actor.token_expires_at):
                raise PolicyDenied(
                    f"{actor.name} acts with a token limited to {', '.join(actor.zones)} until "
                    f"{actor.token_expires_at:%Y-%m-%d %H:%M} UTC; it cannot mint one for other zones or a longer time.",
                    hint="Mint it with your own, unlimited token.",
                )
        token_id, plaintext, secret_hash = mint_token()
        record = TokenRecord(
            id=token_id,
            principal=principal,
            description=description,
            created_at=now,
            expires_at=now + ttl,
            zones=sorted(set(zones), key=list(Zone).index) if zones else None,
            created_by=self._guard.actor.name,
        )
        details = {"principal": principal, "expires_at": record.expires_at.isoformat(), "zones": record.zones}
        with self._guard.act(
            "token.create", Resource(type="Token", id=token_id, owner=principal), details=details
        ) as unit:
            self._require(unit, principal)
            unit.identity.add_token(record, secret_hash)
        return IssuedToken(record=record, plaintext=plaintext)

    def tokens(self, principal: str | None = None) -> list[TokenRecord]:
        with self._guard.act("user.read", Resource(type="Token", id="*")) as unit:
            return unit.identity.list_tokens(principal)

    def revoke_token(self, token_id: str) -> None:
        with self._guard.lookup() as unit:
            record = unit.identity.get_token(token_id)
        if record is None:
            raise NotFound(f"No token with id {token_id!r}.", hint="`leanops tokens list` shows the ids.")
        with self._guard.act("token.revoke", Resource(type="Token", id=token_id, owner=record.principal)) as unit:
            unit.identity.revoke_token(token_id, self._guard.clock.now())

    @staticmethod
    def _require(unit: object, name: str) -> Principal:
        principal = unit.identity.get_principal(name)  # type: ignore[attr-defined]
        if principal is None:
            raise NotFound(f"No user or service account named {name!r}.", hint="Add it with `leanops users add`.")
        return principal
