"""Who is acting: users and service accounts, their roles per zone, and API tokens.

Tokens are random, shown once and stored only as a sha256 hash, so a leaked database
yields no usable credential. They expire (short by default) and can be revoked.
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


class TokenRecord(BaseModel):
    """What is kept of a token: never the secret, only its hash."""

    id: str
    principal: str
    description: str = ""
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


class Actor(BaseModel):
    """The authenticated principal of one request, with every role grant it holds."""

    name: str
    grants: list[RoleGrant] = []
    via: str = "config"  # config | token

    def roles_in(self, zone: Zone) -> list[Role]:
        return sorted({g.role for g in self.grants if g.zone is None or g.zone == zone})


class IdentityRepo(Protocol):
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
    return Actor(name=principal.name, grants=repo.grants(principal.name), via="token")


def actor_for(repo: IdentityRepo, name: str) -> Actor:
    """The locally configured user as an actor; an unregistered name holds no role (deny by default)."""
    principal = repo.get_principal(name)
    if principal is None or principal.disabled:
        return Actor(name=name, grants=[])
    return Actor(name=name, grants=repo.grants(name))
