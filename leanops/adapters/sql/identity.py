"""Principals, role grants and token hashes in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from leanops.adapters.sql.tables import clearances, principals, role_grants, store_trust, tokens
from leanops.identity import Clearance, Mode, Principal, RoleGrant, TokenRecord, Trust
from leanops.policy import Role
from leanops.zones import Zone


class SqlIdentityRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def trust(self) -> Trust | None:
        row = self.conn.execute(select(store_trust).where(store_trust.c.id == 1)).mappings().first()
        return Trust(**{k: v for k, v in row.items() if k != "id"}) if row else None

    def add_trust(self, trust: Trust) -> bool:
        """Record the store's mode once; False when another bootstrap got there first."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(store_trust).values(id=1, **trust.model_dump(mode="python")))
        except IntegrityError:
            return False
        return True

    def set_mode(self, mode: Mode) -> None:
        self.conn.execute(update(store_trust).where(store_trust.c.id == 1).values(mode=str(mode)))

    def clearances(self, principal: str) -> list[Clearance]:
        rows = self.conn.execute(select(clearances).where(clearances.c.principal == principal)).mappings()
        return [Clearance(**{k: v for k, v in r.items() if k != "id"}) for r in rows]

    def all_clearances(self) -> list[Clearance]:
        rows = self.conn.execute(select(clearances).order_by(clearances.c.principal)).mappings()
        return [Clearance(**{k: v for k, v in r.items() if k != "id"}) for r in rows]

    def _clearance_clause(self, principal: str, data_class: str, zone: Zone | None):  # noqa: ANN202
        zone_clause = clearances.c.zone.is_(None) if zone is None else clearances.c.zone == str(zone)
        return and_(clearances.c.principal == principal, clearances.c.data_class == data_class, zone_clause)

    def add_clearance(self, clearance: Clearance) -> bool:
        clause = self._clearance_clause(clearance.principal, clearance.data_class, clearance.zone)
        if self.conn.execute(select(clearances.c.id).where(clause)).first():
            return False
        self.conn.execute(insert(clearances).values(**clearance.model_dump(mode="python")))
        return True

    def remove_clearance(self, principal: str, data_class: str, zone: Zone | None) -> bool:
        clause = self._clearance_clause(principal, data_class, zone)
        return self.conn.execute(delete(clearances).where(clause)).rowcount > 0

    def get_principal(self, name: str) -> Principal | None:
        row = self.conn.execute(select(principals).where(principals.c.name == name)).mappings().first()
        return Principal(**row) if row else None

    def add_principal(self, principal: Principal) -> None:
        self.conn.execute(insert(principals).values(**principal.model_dump()))

    def list_principals(self) -> list[Principal]:
        rows = self.conn.execute(select(principals).order_by(principals.c.name)).mappings()
        return [Principal(**r) for r in rows]

    def count_principals(self) -> int:
        return self.conn.execute(select(func.count()).select_from(principals)).scalar_one()

    def grants(self, principal: str) -> list[RoleGrant]:
        rows = self.conn.execute(select(role_grants).where(role_grants.c.principal == principal)).mappings()
        return [RoleGrant(**{k: v for k, v in r.items() if k != "id"}) for r in rows]

    def all_grants(self) -> list[RoleGrant]:
        rows = self.conn.execute(select(role_grants).order_by(role_grants.c.principal, role_grants.c.role)).mappings()
        return [RoleGrant(**{k: v for k, v in r.items() if k != "id"}) for r in rows]

    def _grant_clause(self, principal: str, role: Role, zone: Zone | None):  # noqa: ANN202
        zone_clause = role_grants.c.zone.is_(None) if zone is None else role_grants.c.zone == str(zone)
        return and_(role_grants.c.principal == principal, role_grants.c.role == str(role), zone_clause)

    def add_grant(self, grant: RoleGrant) -> bool:
        exists = self.conn.execute(
            select(role_grants.c.id).where(self._grant_clause(grant.principal, grant.role, grant.zone))
        ).first()
        if exists:
            return False
        self.conn.execute(insert(role_grants).values(**grant.model_dump(mode="python")))
        return True

    def remove_grant(self, principal: str, role: Role, zone: Zone | None) -> bool:
        return self.conn.execute(delete(role_grants).where(self._grant_clause(principal, role, zone))).rowcount > 0

    def add_token(self, token: TokenRecord, secret_hash: str) -> None:
        self.conn.execute(insert(tokens).values(**token.model_dump(mode="python"), secret_hash=secret_hash))

    def token_by_hash(self, secret_hash: str) -> TokenRecord | None:
        row = self.conn.execute(select(tokens).where(tokens.c.secret_hash == secret_hash)).mappings().first()
        return _token(row) if row else None

    def get_token(self, token_id: str) -> TokenRecord | None:
        row = self.conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
        return _token(row) if row else None

    def list_tokens(self, principal: str | None = None) -> list[TokenRecord]:
        query = select(tokens).order_by(tokens.c.created_at)
        if principal:
            query = query.where(tokens.c.principal == principal)
        return [_token(r) for r in self.conn.execute(query).mappings()]

    def revoke_token(self, token_id: str, at: datetime) -> None:
        self.conn.execute(
            update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)).values(revoked_at=at)
        )

    def touch_token(self, token_id: str, at: datetime) -> None:
        self.conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=at))


def _token(row: object) -> TokenRecord:
    return TokenRecord(**{k: v for k, v in dict(row).items() if k != "secret_hash"})  # type: ignore[call-overload]
