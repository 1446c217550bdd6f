"""Who is acting: users and service accounts, their roles per zone, clearances and API tokens.

Tokens are random, shown once and stored only as a sha256 hash, so a leaked database
yields no usable credential. They expire (short by default), can be limited to zones and
can be revoked.

The store records its trust mode, so neither leanops.yaml nor an environment variable can
loosen it: in *local* mode a configured name is trusted for the one local person only; in
*team* mode nothing but a valid token identifies anyone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from leanops.errors import AuthenticationError
from leanops.policy import Role
from leanops.zones import Zone

TOKEN_PREFIX = "lo"
DEFAULT_TOKEN_TTL = timedelta(hours=8)
MAX_TOKEN_TTL = timedelta(days=90)
_TOKEN_RE = re.compile(r"^lo_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


class Mode(StrEnum):
    LOCAL = "local"
    TEAM = "team"


class Trust(BaseModel):
    """How the store identifies callers: recorded once, at bootstrap."""

    mode: Mode
    local_user: str | None = None
    project: str
    created_at: datetime
    created_by: str


class PrincipalKind(StrEnum):
    USER = "user"
    SERVICE = "service"


class Principal(BaseModel):
    name: str
    kind: PrincipalKind = PrincipalKind.USER
    created_at: datetime
    created_by: str
    disabled: bool = False


class RoleGrant(BaseModel):
    principal: str
    role: Role
    zone: Zone | None = None  # None: every zone
    granted_at: datetime
    granted_by: str


class Clearance(BaseModel):
    """Leave to read and use data of a class (today: sensitive) in a zone, held by a principal."""

    principal: str
    data_class: str
    zone: Zone | None = None  # None: every zone
    granted_at: datetime
    granted_by: str

    def covers(self, data_class: str, zone: Zone) -> bool:
        return self.data_class == data_class and (self.zone is None or self.zone == zone)


CLEARED_CLASSES = ("sensitive",)  # classes a principal must be cleared for; the others follow roles


class TokenRecord(BaseModel):
    """What is kept of a token: never the secret, only its hash."""

    id: str
    principal: str
    description: str = ""
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    zones: list[Zone] | None = None  # None: every zone
    created_by: str = ""

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


class Actor(BaseModel):
    """The authenticated principal of one request, with every grant and clearance it holds."""

    name: str
    kind: PrincipalKind = PrincipalKind.USER
    grants: list[RoleGrant] = []
    clearances: list[Clearance] = []
    via: str = "config"  # config | token
    zones: list[Zone] | None = None  # a zone-limited token holds nothing elsewhere
    token_id: str | None = None
    token_created_by: str = ""
    token_expires_at: datetime | None = None

    def acts_in(self, zone: Zone) -> bool:
        return self.zones is None or zone in self.zones

    def roles_in(self, zone: Zone) -> list[Role]:
        if not self.acts_in(zone):
            return []
        return sorted({g.role for g in self.grants if g.zone is None or g.zone == zone})

    def cleared_for(self, data_class: str, zone: Zone) -> bool:
        """Data outside the cleared classes needs no clearance; the rest needs one for this zone."""
        if data_class not in CLEARED_CLASSES:
            return True
        return self.acts_in(zone) and any(c.covers(data_class, zone) for c in self.clearances)


class IdentityRepo(Protocol):
    def trust(self) -> Trust | None: ...
    def add_trust(self, trust: Trust) -> bool: ...
    def set_mode(self, mode: Mode) -> None: ...
    def clearances(self, principal: str) -> list[Clearance]: ...
    def all_clearances(self) -> list[Clearance]: ...
    def add_clearance(self, clearance: Clearance) -> bool: ...
    def remove_clearance(self, principal: str, data_class: str, zone: Zone | None) -> bool: ...
    def get_principal(self, name: str) -> Principal | None: ...
    def add_principal(self, principal: Principal) -> None: ...
    def list_principals(self) -> list[Principal]: ...
    def count_principals(self) -> int: ...
    def grants(self, principal: str) -> list[RoleGrant]: ...
    def all_grants(self) -> list[RoleGrant]: ...
    def add_grant(self, grant: RoleGrant) -> bool: ...
    def remove_grant(self, principal: str, role: Role, zone: Zone | None) -> bool: ...
    def add_token(self, token: TokenRecord, secret_hash: str) -> None: ...
    def token_by_hash(self, secret_hash: str) -> TokenRecord | None: ...
    def get_token(self, token_id: str) -> TokenRecord | None: ...
    def list_tokens(self, principal: str | None = None) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: str, at: datetime) -> None: ...
    def touch_token(self, token_id: str, at: datetime) -> None: ...


def check_name(name: str) -> str:
    """Principal names double as Cedar entity ids and audit actors: keep them plain."""
    if not _NAME_RE.match(name):
        from leanops.errors import ValidationError

        raise ValidationError(
            f"{name!r} is not a valid user or service name.",
            hint="Use 1-128 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.",
        )
    return name


def mint_token() -> tuple[str, str, str]:
    """A new token as (id, plaintext, sha256 of the plaintext); only the hash is stored."""
    token_id = secrets.token_hex(6)
    plaintext = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, plaintext, hash_token(plaintext)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_token(plaintext: str) -> str:
    """The token id inside a well-formed token, or `AuthenticationError`."""
    match = _TOKEN_RE.match(plaintext.strip())
    if not match:
        raise AuthenticationError(
            "The token is malformed.",
            hint="Tokens look like lo_<12 hex>_<secret>; create one with `leanops tokens create`.",
        )
    return match.group(1)


def check_token(record: TokenRecord | None, now: datetime) -> TokenRecord:
    """Refuse unknown, revoked and expired tokens with a message that says which."""
    if record is None:
        raise AuthenticationError("The token is not known.", hint="Create one with `leanops tokens create`.")
    status = record.status(now)
    if status != "active":
        raise AuthenticationError(
            f"Token {record.id} is {status}.", hint="Create a new one with `leanops tokens create`."
        )
    return record


def authenticate(repo: IdentityRepo, plaintext: str, now: datetime) -> Actor:
    """The actor a token speaks for; unknown, malformed, expired and revoked tokens are refused."""
    parse_token(plaintext)
    record = check_token(repo.token_by_hash(hash_token(plaintext)), now)
    principal = repo.get_principal(record.principal)
    if principal is None or principal.disabled:
        raise AuthenticationError(f"The principal of token {record.id} is disabled or gone.")
    repo.touch_token(record.id, now)
    return Actor(
        name=principal.name,
        kind=principal.kind,
        grants=repo.grants(principal.name),
        clearances=repo.clearances(principal.name),
        via="token",
        zones=record.zones,
        token_id=record.id,
        token_created_by=record.created_by,
        token_expires_at=record.expires_at,
    )


def actor_for(repo: IdentityRepo, name: str) -> Actor:
    """A principal by name, with its grants; an unregistered name holds no role (deny by default).

    Trusting a name is the caller's decision: `resolve_actor` makes it by the store's mode.
    """
    principal = repo.get_principal(name)
    if principal is None or principal.disabled:
        return Actor(name=name, grants=[])
    return Actor(name=name, kind=principal.kind, grants=repo.grants(name), clearances=repo.clearances(name))


def resolve_actor(repo: IdentityRepo, *, token: str | None, name: str, now: datetime) -> Actor:
    """Who a request speaks for, by the store's recorded mode (never by configuration).

    A token always decides. Without one, only local mode's one local person is trusted by name;
    before bootstrap nobody holds a role, so a name is harmless.
    """
    if token:
        return authenticate(repo, token, now)
    trust = repo.trust()
    if trust is None:
        return Actor(name=name, grants=[])
    if trust.mode is Mode.TEAM:
        raise AuthenticationError(
            f"This project's store is in team mode: a name ({name!r}) alone is never trusted.",
            hint="Set LEANOPS_TOKEN (or pass --token) to an API token issued to you.",
        )
    if name != trust.local_user:
        raise AuthenticationError(
            f"This project's store is in local mode for {trust.local_user!r}; acting as {name!r} needs a token.",
            hint=f"Set LEANOPS_TOKEN to a token issued to {name} (an admin runs `leanops tokens create --for {name}`),"
            " or share the project through team mode (`leanops team enable`).",
        )
    return actor_for(repo, name)


APPROVING_ROLES = (Role.APPROVER, Role.ADMIN)


def independent_of(repo: IdentityRepo, actor: Actor, owner: str, zone: Zone) -> bool:
    """Whether `actor` is a second human for `owner`'s work: four eyes, not two hands.

    Not independent: the owner themself, a service account, an actor whose every approving grant
    was made by the owner (a sock puppet), or one acting with a token the owner minted.
    """
    if not owner or actor.name == owner or actor.kind is PrincipalKind.SERVICE:
        return False
    principal = repo.get_principal(actor.name)
    if principal is None or principal.kind is PrincipalKind.SERVICE:
        return False
    if actor.token_created_by == owner:
        return False
    approving = [g for g in actor.grants if g.role in APPROVING_ROLES and (g.zone is None or g.zone == zone)]
    return any(g.granted_by != owner for g in approving)
