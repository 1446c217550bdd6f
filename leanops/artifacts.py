"""References from metadata to content-addressed blobs, and the integrity check over both.

Every noun that keeps bytes (dataset snapshots, run artifacts, model packages) records an
`ArtifactRef`; fsck and garbage collection then need no knowledge of the nouns themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from leanops.errors import IntegrityError, NotFound
from leanops.ports import ArtifactStore


class ArtifactRef(BaseModel):
    digest: str
    owner_kind: str  # dataset | run | model | job | ...
    owner_id: str
    name: str
    size: int
    zone: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None


class RefRepo(Protocol):
    def add(self, ref: ArtifactRef) -> None: ...
    def for_owner(self, owner_kind: str, owner_id: str) -> list[ArtifactRef]: ...
    def all(self) -> list[ArtifactRef]: ...
    def digests(self) -> set[str]: ...
    def expired(self, now: datetime) -> list[ArtifactRef]: ...
    def live_digests(self, now: datetime) -> set[str]: ...
    def remove_expired(self, now: datetime) -> int: ...


class Damage(BaseModel):
    kind: str  # corrupt | missing | dangling
    digest: str
    where: str
    detail: str


class FsckReport(BaseModel):
    blobs_checked: int = 0
    refs_checked: int = 0
    damage: list[Damage] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage


def fsck(
    artifacts: ArtifactStore,
    refs: list[ArtifactRef],
    extra_checks: list[Callable[[], list[Damage]]] = (),  # type: ignore[assignment]
    progress: Callable[[int], None] | None = None,
) -> FsckReport:
    """Re-hash every blob and resolve every reference; collect damage instead of stopping at it."""
    report = FsckReport()
    for digest in artifacts.digests():
        report.blobs_checked += 1
        try:
            artifacts.verify(digest)
        except IntegrityError as exc:
            report.damage.append(Damage(kind="corrupt", digest=digest, where=artifacts.url, detail=exc.message))
        if progress:
            progress(report.blobs_checked)
    for ref in refs:
        report.refs_checked += 1
        try:
            if not artifacts.exists(ref.digest):
                raise NotFound(ref.digest)
        except NotFound:
            report.damage.append(
                Damage(
                    kind="missing",
                    digest=ref.digest,
                    where=f"{ref.owner_kind}:{ref.owner_id}",
                    detail=f"{ref.name!r} points to a blob that is not in the artifact store",
                )
            )
    for check in extra_checks:
        report.damage.extend(check())
    return report
