"""References from metadata to content-addressed blobs, and the integrity check over both.

Every noun that keeps bytes (dataset snapshots, run artifacts, model packages) records an
`ArtifactRef`; fsck and garbage collection then need no knowledge of the nouns themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from leanops.errors import IntegrityError, NotFound, ValidationError
from leanops.ports import ArtifactStore

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_artifact_name(name: str) -> str:
    """A stored name must stay a relative path inside whatever folder it is later written to.

    `../x`, `/etc/x`, `C:\\x`, backslashes, NUL and empty segments are refused when logged, so no
    loader ever writes outside its folder.
    """
    parts = name.split("/") if name else []
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or any(ord(c) < 32 for c in name)
        or name.startswith("/")
        or _DRIVE.match(name)
        or any(p in ("", "..", ".") for p in parts)
    )
    if bad:
        raise ValidationError(
            f"Artifact name {name!r} is not a plain relative path.",
            hint="Use names like model/weights.bin: no '..', no leading '/', no backslashes or drive letters.",
        )
    return name


def contained(root: Path, name: str) -> Path:
    """`root / name`, refusing any name that would land outside `root` (symlinks resolved)."""
    check_artifact_name(name)
    base = Path(root).resolve()
    target = (base / name).resolve()
    if not target.is_relative_to(base):
        raise IntegrityError(f"Stored name {name!r} points outside {base}.", hint="The record was tampered with.")
    return target


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
    leftovers: list[str] = Field(
        default_factory=list,
        description="Temp files of interrupted writes: not damage; `leanops gc --apply` clears them",
    )

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
    temp_files = getattr(artifacts, "temp_files", None)
    if callable(temp_files):
        report.leftovers = [f"{path} ({size} bytes)" for path, size in temp_files()]
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
