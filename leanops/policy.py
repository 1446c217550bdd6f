"""Policy as code: the vocabulary every decision is made in.

The catalogue of actions, the roles and the shape of a request and a decision live here,
engine-free; `adapters/cedar.py` evaluates them against the shipped Cedar bundle plus the
project's own `policies/*.cedar`. Time-boxed exceptions are a domain rule, applied on top.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, Protocol

from pydantic import BaseModel, Field

from leanops.zones import Zone


class Role(StrEnum):
    """Roles nest: each one holds every permission of the ones below it."""

    VIEWER = "viewer"
    DEVELOPER = "developer"
    APPROVER = "approver"
    ADMIN = "admin"


ROLE_PARENTS: dict[Role, Role | None] = {
    Role.VIEWER: None,
    Role.DEVELOPER: Role.VIEWER,
    Role.APPROVER: Role.DEVELOPER,
    Role.ADMIN: Role.APPROVER,
}

# Action groups: Cedar policies speak of `action in Action::"read"` and the like.
ACTION_GROUPS: dict[str, list[str]] = {
    "read": [
        "project.read",
        "audit.read",
        "policy.read",
        "user.read",
        "dataset.read",
        "run.read",
        "job.read",
        "model.read",
        "deployment.read",
        "alert.read",
        "cost.read",
        "budget.read",
    ],
    "write": [
        "dataset.register",
        "run.create",
        "run.log",
        "job.run",
        "job.cancel",
        "model.register",
        "model.evaluate",
        "cost.record",
        "monitor.run",
        "alert.ack",
    ],
    # Not "write": a developer's sandbox rights must never mint credentials for someone else.
    "credentials": ["token.create", "token.revoke"],
    "release": ["model.approve", "model.promote", "model.rollback", "deploy", "budget.overspend", "policy.approve"],
    "admin": [
        "project.init",
        "user.manage",
        "policy.exception",
        "budget.set",
        "gc.run",
        "audit.export",
        "policy.activate",
    ],
}
ACTIONS: dict[str, str] = {action: group for group, names in ACTION_GROUPS.items() for action in names}

# Entity types a resource may be, as named in the Cedar schema.
RESOURCE_TYPES = (
    "Project",
    "User",
    "Dataset",
    "Run",
    "Model",
    "ModelVersion",
    "Job",
    "Budget",
    "Deployment",
    "Alert",
    "Token",
    "Policy",
)


class Resource(BaseModel):
    """What an action is done to: its Cedar type, id and the attributes policies may test."""

    type: str
    id: str
    owner: str = ""
    attrs: dict[str, Any] = Field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.type}:{self.id}"


class PolicyRequest(BaseModel):
    principal: str
    roles: list[Role]
    action: str
    resource: Resource
    zone: Zone
    context: dict[str, Any] = Field(default_factory=dict)


class PolicyDecision(BaseModel):
    allowed: bool
    policy_ids: list[str] = Field(default_factory=list, description="The policies that decided")
    errors: list[str] = Field(default_factory=list)


class PolicyInfo(BaseModel):
    """One active policy as written, for `leanops policy doc` and explanations."""

    id: str
    effect: str = Field(description="permit or forbid")
    file: str
    line: int
    source: str
    comment: str = ""


class PendingPermit(BaseModel):
    """A project permit that widens access and waits for its two approvals."""

    id: str
    file: str
    line: int
    hash: str
    text: str


class RetainedForbid(BaseModel):
    """A project forbid once in force and since removed or edited in the files: it stays in
    force until its removal is approved like a permit, since dropping a restriction widens
    access as much as adding a permit does."""

    id: str
    file: str
    hash: str
    text: str


def retirement(forbid_hash: str) -> str:
    """The approval key for removing a forbid, distinct from any statement's own hash."""
    return hashlib.sha256(f"retire:{forbid_hash}".encode()).hexdigest()


class PolicyApproval(BaseModel):
    hash: str
    approver: str
    admin: bool
    at: datetime


def activated(approvals: list[PolicyApproval]) -> set[str]:
    """Permit hashes that two different people approved, at least one of them an admin."""
    by_hash: dict[str, list[PolicyApproval]] = {}
    for a in approvals:
        by_hash.setdefault(a.hash, []).append(a)
    return {h for h, group in by_hash.items() if len({a.approver for a in group}) >= 2 and any(a.admin for a in group)}


class PolicyProblem(BaseModel):
    """Why a policy file is refused, pointing at the spot to fix."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PolicyEngine(Protocol):
    """Decides one request against the active policy set; must be cheap (tens of µs)."""

    bundle_hash: str  # sha256 of the effective policies, carried by every audit record

    def decide(self, request: PolicyRequest) -> PolicyDecision: ...


# Four-eyes and data-class rules protect others from the beneficiary: no exception waives them.
NON_WAIVABLE = frozenset({"no-self-approval", "four-eyes-independent-approver", "sandbox-no-sensitive-data"})


def default_context(zone: Zone, context: dict[str, Any]) -> dict[str, Any]:
    """Every context key the schema declares, so policies never need `has` guards."""
    base: dict[str, Any] = {
        "zone": str(zone),
        "data_class": "none",
        "source_allowed": True,
        "approved": False,
        "metadata_complete": True,
        "tagged": True,
        "exception": False,
        "cleared": False,
        "independent_approver": False,
    }
    return base | context


class PolicyException(BaseModel):
    """A time-boxed, audited waiver: lets one principal do what a policy would refuse."""

    id: str
    principal: str
    action: str
    resource: str = Field("*", description="A resource ref (Type:id) or a glob over refs")
    zone: Zone | None = None
    reason: str
    granted_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def covers(self, request: PolicyRequest, now: datetime) -> bool:
        return (
            self.active(now)
            and self.principal == request.principal
            and self.action == request.action
            and (self.zone is None or self.zone == request.zone)
            and fnmatchcase(request.resource.ref, self.resource)
        )


class PolicyApprovalRepo(Protocol):
    """Where approvals of policy texts live (`unit.policies`)."""

    def approve(self, approval: PolicyApproval) -> bool: ...
    def approvals(self) -> list[PolicyApproval]: ...
    def known_forbids(self) -> list[RetainedForbid]: ...
    def remember_forbids(self, forbids: list[RetainedForbid], at: datetime) -> int: ...


class ExceptionRepo(Protocol):
    """Where time-boxed policy exceptions live (`unit.exceptions`)."""

    def add(self, exc: PolicyException) -> None: ...
    def get(self, exc_id: str) -> PolicyException | None: ...
    def list(self) -> list[PolicyException]: ...
    def active_for(self, principal: str, now: datetime) -> list[PolicyException]: ...
    def revoke(self, exc_id: str, at: datetime) -> None: ...
