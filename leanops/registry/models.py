"""What the registry keeps: model versions with their package and lineage, evidence records,
approvals, zone aliases and every alias move.

Records only; the rules over them live in `rules.py`, the guarded operations in `service.py`.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from leanops.errors import ValidationError
from leanops.flavors import ColumnSpec, ModelManifest, Signature
from leanops.zones import Zone

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_RE = re.compile(r"^[vV]?(\d{1,9})$")

# The zones a model can be promoted into; the sandbox is where versions are made, not served.
PROMOTION_ZONES: tuple[Zone, ...] = (Zone.STAGING, Zone.PRODUCTION)


class Check(StrEnum):
    """The kinds of evidence a zone can demand before a version may serve there."""

    METADATA = "metadata"  # the run still carries every required field and the zone's tags
    INTEGRITY = "integrity"  # every package file re-hashes to its recorded digest
    THRESHOLDS = "thresholds"  # metrics measured on the evaluation snapshot meet the rules
    TESTS = "tests"  # the rules' test command exits 0
    MONITORING = "monitoring"  # a monitoring config for the model exists and parses
    OWNER = "owner"  # someone answers for the model
    ROLLBACK_TARGET = "rollback_target"  # there is somewhere to roll back to (or a declared first release)


class PackageFile(BaseModel):
    """One file of a model package: its path inside the package, digest and size."""

    path: str
    digest: str
    size: int


class Manifest(BaseModel):
    """The package a version serves: flavor, signature and the hash of every file."""

    flavor: str
    signature: Signature | None = None
    files: list[PackageFile]
    package: ModelManifest = Field(description="The flavor's own manifest, as written in the package")

    def input_columns(self) -> list[str] | None:
        """The named input columns, when the signature has them (a DataFrame-trained model)."""
        if self.signature is not None and isinstance(self.signature.inputs, list):
            return [c.name for c in self.signature.inputs if isinstance(c, ColumnSpec)]
        return None


class DatasetLink(BaseModel):
    id: str = Field(description="Snapshot id (content hash)")
    ref: str | None = Field(None, description="name@vN, when the dataset service knows it")
    data_class: str = "none"


class CodeLink(BaseModel):
    commit: str | None = None
    dirty: bool | None = None
    remote: str | None = None


class Lineage(BaseModel):
    """Where a version came from, frozen at registration so it stays traceable in minutes."""

    run_id: str
    run_owner: str
    run_purpose: str = ""
    job_id: str | None = Field(None, description="The job whose run made the model, if a job did")
    datasets: list[DatasetLink] = Field(default_factory=list)
    code: CodeLink = Field(default_factory=CodeLink)
    features: list[str] = Field(default_factory=list)
    environment: dict[str, Any] = Field(default_factory=dict, description="python, platform, packages_hash")
    parent: int | None = Field(None, description="The version this one derives from or replaces")

    def missing(self) -> list[str]:
        """The links a traceable version must have and this one lacks."""
        gaps = [] if self.datasets else ["datasets"]
        gaps += [] if self.code.commit else ["code_commit"]
        gaps += [] if self.features else ["features"]
        return gaps


class ModelVersion(BaseModel):
    name: str
    version: int
    run_id: str
    owner: str = Field(description="The run's owner: who answers for the model (and may not approve it)")
    description: str = ""
    created_at: datetime
    created_by: str
    manifest: Manifest
    lineage: Lineage

    @property
    def ref(self) -> str:
        return f"{self.name}/v{self.version}"

    @property
    def resource_id(self) -> str:
        return f"{self.name}/{self.version}"


class EvidenceItem(BaseModel):
    """One fact about a version, checked automatically: what, whether it holds, and the data."""

    check: Check
    name: str = Field(description="The check, or the threshold text for a threshold")
    passed: bool
    required: bool = True
    detail: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class Requirement(BaseModel):
    """What a zone demands of a version, resolved from the rules file and the zone settings."""

    zone: Zone
    checks: list[Check]
    thresholds: list[str] = Field(default_factory=list, description="Thresholds as text, e.g. 'auc >= 0.85'")


class Evidence(BaseModel):
    id: str
    name: str
    version: int
    zone: Zone
    created_at: datetime
    created_by: str
    rules_file: str = ""
    rules_digest: str = Field("", description="sha256 of the rules file the evidence was judged by")
    rules_commit: str | None = Field(None, description="The commit the rules file was read from")
    requirement: Requirement
    items: list[EvidenceItem]

    @property
    def passed(self) -> bool:
        return all(i.passed for i in self.items if i.required)

    @property
    def failures(self) -> list[EvidenceItem]:
        return [i for i in self.items if i.required and not i.passed]


class Approval(BaseModel):
    """Who approved a version for a zone, when, why, and on which evidence."""

    id: str
    name: str
    version: int
    zone: Zone
    approver: str
    approved_at: datetime
    reason: str
    evidence_id: str


class Alias(BaseModel):
    """The version a zone serves now."""

    name: str
    zone: Zone
    version: int
    updated_at: datetime
    updated_by: str


class AliasMove(BaseModel):
    """One change of a zone's alias, kept forever: the answer to "what served when, and why"."""

    id: int | None = None
    name: str
    zone: Zone
    version: int
    previous: int | None = None
    action: Literal["promote", "rollback"]
    actor: str
    at: datetime
    reason: str
    evidence_id: str | None = None
    approval_id: str | None = None


class Served(BaseModel):
    """An interval during which a zone served a version (`until` is None while it still does)."""

    zone: Zone
    version: int
    since: datetime
    until: datetime | None = None
    actor: str
    action: str


class History(BaseModel):
    name: str
    aliases: list[Alias]
    moves: list[AliasMove]
    served: list[Served]


class LineageReport(BaseModel):
    """A version's whole story: its lineage, its run, its ancestors, approvals and where it serves."""

    model: ModelVersion
    run: dict[str, Any]
    ancestors: list[dict[str, Any]] = Field(default_factory=list, description="Parent, grandparent, …")
    serving: list[Zone] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)


class ModelRepo(Protocol):
    """Where registry records live."""

    def max_version(self, name: str) -> int: ...
    def add_version(self, version: ModelVersion) -> None: ...
    def get_version(self, name: str, version: int) -> ModelVersion | None: ...
    def list_versions(self, name: str | None = None) -> list[ModelVersion]: ...
    def add_evidence(self, evidence: Evidence) -> None: ...
    def get_evidence(self, evidence_id: str) -> Evidence | None: ...
    def latest_evidence(self, name: str, version: int, zone: Zone) -> Evidence | None: ...
    def evidence_for(self, name: str, version: int) -> list[Evidence]: ...
    def add_approval(self, approval: Approval) -> None: ...
    def approvals(self, name: str, version: int | None = None, zone: Zone | None = None) -> list[Approval]: ...
    def get_alias(self, name: str, zone: Zone, *, lock: bool = False) -> Alias | None: ...
    def aliases(self, name: str | None = None) -> list[Alias]: ...
    def set_alias(self, alias: Alias) -> None: ...
    def add_move(self, move: AliasMove) -> None: ...
    def moves(self, name: str, zone: Zone | None = None) -> list[AliasMove]: ...


def check_model_name(name: str) -> str:
    """Model names appear in resource ids, aliases and file names (`models/<name>.yaml`)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationError(
            f"{name!r} is not a valid model name.",
            hint="Use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def parse_version(value: int | str) -> int:
    """7, "7" or "v7" → 7."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _VERSION_RE.match(str(value).strip())
    if not match or int(match.group(1)) < 1:
        raise ValidationError(f"{value!r} is not a model version.", hint="Write a positive number such as 3 or v3.")
    return int(match.group(1))


def promotion_zone(value: Zone | str) -> Zone:
    """A zone a model can be promoted into (staging or production)."""
    try:
        zone = Zone(str(value).lower())
    except ValueError:
        raise ValidationError(f"Unknown zone {value!r}.", hint=f"Use one of: {', '.join(PROMOTION_ZONES)}.") from None
    if zone not in PROMOTION_ZONES:
        raise ValidationError(
            f"{zone} is not a promotion zone: versions are made there, not served.",
            hint=f"Promote to one of: {', '.join(PROMOTION_ZONES)}.",
        )
    return zone
