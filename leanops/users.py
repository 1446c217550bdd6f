"""Managing users, service accounts, role grants and tokens — every change through the guard."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from leanops.errors import Conflict, NotFound, ValidationError
from leanops.guard import Guard
from leanops.identity import (
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL,
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
        self.guard = guard

    def add(
        self, name: str, *, kind: PrincipalKind = PrincipalKind.USER, roles: list[Role] = (), zone: Zone | None = None
    ) -> Principal:  # type: ignore[assignment]
        check_name(name)
        now = self.guard.clock.now()
        with self.guard.act(
            "user.manage",
            Resource(type="User", id=name),
            details={"op": "add", "kind": str(kind), "roles": [str(r) for r in roles]},
        ) as unit:
            if unit.identity.get_principal(name):
                raise Conflict(f"User {name!r} exists already.", hint="Use `leanops users grant` to change roles.")
            principal = Principal(name=name, kind=kind, created_at=now, created_by=self.guard.actor.name)
            unit.identity.add_principal(principal)
            for role in roles:
                unit.identity.add_grant(
                    RoleGrant(principal=name, role=role, zone=zone, granted_at=now, granted_by=self.guard.actor.name)
                )
        return principal

    def list(self) -> list[tuple[Principal, list[RoleGrant]]]:
        with self.guard.act("user.read", Resource(type="User", id="*")) as unit:
            grants = unit.identity.all_grants()
            return [(p, [g for g in grants if g.principal == p.name]) for p in unit.identity.list_principals()]

    def grant(self, name: str, role: Role, zone: Zone | None = None) -> bool:
        with self.guard.act(
            "user.manage", Resource(type="User", id=name), details={"op": "grant", "role": str(role), "zone": zone}
        ) as unit:
            self._require(unit, name)
            return unit.identity.add_grant(
                RoleGrant(
                    principal=name,
                    role=role,
                    zone=zone,
                    granted_at=self.guard.clock.now(),
                    granted_by=self.guard.actor.name,
                )
            )

    def revoke(self, name: str, role: Role, zone: Zone | None = None) -> None:
        with self.guard.act(
            "user.manage", Resource(type="User", id=name), details={"op": "revoke", "role": str(role), "zone": zone}
        ) as unit:
            self._require(unit, name)
            if not unit.identity.remove_grant(name, role, zone):
                where = f" in {zone}" if zone else " (all zones)"
                raise NotFound(f"{name} holds no {role} grant{where}.", hint="`leanops users list` shows the grants.")

    def create_token(
        self, principal: str | None = None, *, ttl: timedelta = DEFAULT_TOKEN_TTL, description: str = ""
    ) -> IssuedToken:
        """Mint a token for yourself (any role) or, as an admin, for a service account."""
        principal = principal or self.guard.actor.name
        if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
            raise ValidationError(
                f"Token lifetime {ttl} is out of range.", hint=f"Use between 1 minute and {MAX_TOKEN_TTL.days} days."
            )
        token_id, plaintext, secret_hash = mint_token()
        now = self.guard.clock.now()
        record = TokenRecord(
            id=token_id, principal=principal, description=description, created_at=now, expires_at=now + ttl
        )
        with self.guard.act(
            "token.create",
            Resource(type="Token", id=token_id, owner=principal),
            details={"principal": principal, "expires_at": record.expires_at.isoformat()},
        ) as unit:
            self._require(unit, principal)
            unit.identity.add_token(record, secret_hash)
        return IssuedToken(record=record, plaintext=plaintext)

    def tokens(self, principal: str | None = None) -> list[TokenRecord]:
        with self.guard.act("user.read", Resource(type="Token", id="*")) as unit:
            return unit.identity.list_tokens(principal)

    def revoke_token(self, token_id: str) -> None:
        with self.guard.store.transaction() as unit:
            record = unit.identity.get_token(token_id)
        if record is None:
            raise NotFound(f"No token with id {token_id!r}.", hint="`leanops tokens list` shows the ids.")
        with self.guard.act("token.revoke", Resource(type="Token", id=token_id, owner=record.principal)) as unit:
            unit.identity.revoke_token(token_id, self.guard.clock.now())

    @staticmethod
    def _require(unit: object, name: str) -> Principal:
        principal = unit.identity.get_principal(name)  # type: ignore[attr-defined]
        if principal is None:
            raise NotFound(f"No user or service account named {name!r}.", hint="Add it with `leanops users add`.")
        return principal
