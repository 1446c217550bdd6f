"""Garbage collection of what jobs leave behind: expired scratch artifacts (attempt logs and
outputs past their TTL) and abandoned resources (the scratch folders and processes of runners
that died, half-written artifact temp files).

A dry run (the default) lists what would go and how many bytes that frees; `apply` removes it.
A blob is deleted only when no unexpired reference still needs it and it was not written or
reused within the grace period (`jobs.gc_grace`).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from leanops.errors import NotFound
from leanops.jobs.scratch import folder_size
from leanops.policy import Resource

if TYPE_CHECKING:
    from leanops.jobs.service import JobService


class GcItem(BaseModel):
    kind: str  # artifact | scratch | temp
    what: str
    bytes: int


class GcReport(BaseModel):
    applied: bool
    items: list[GcItem] = Field(default_factory=list)
    expired_refs: int = 0
    lost_jobs: list[str] = Field(default_factory=list)
    temp_files: int = 0

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)


def collect(service: JobService, *, apply: bool) -> GcReport:
    """List (or, with `apply`, remove) expired scratch artifacts and abandoned scratch folders."""
    report = GcReport(applied=apply)
    now = service.clock.now()
    details: dict[str, object] = {"op": "gc", "apply": apply}
    action = "gc.run" if apply else "project.read"
    with service._guard.act(action, Resource(type="Project", id="gc"), details=details) as unit:
        expired = unit.refs.expired(now)
        live = unit.refs.live_digests(now)
        doomed = sorted(d for d in {r.digest for r in expired} - live if _old(service, d))
        sizes = {r.digest: r.size for r in expired if r.digest in doomed}
        report.expired_refs = len(expired)
        for ref in expired:
            if sizes.pop(ref.digest, None) is not None:
                report.items.append(
                    GcItem(kind="artifact", what=f"{ref.owner_kind}:{ref.owner_id[:12]}/{ref.name}", bytes=ref.size)
                )
        if apply:
            unit.refs.remove_expired(now)
        details |= {"expired_refs": report.expired_refs, "blobs": len(report.items)}
    for _job_id, folder in service.scratch.abandoned():
        report.items.append(GcItem(kind="scratch", what=str(folder), bytes=folder_size(folder)))
    temp_files = getattr(service.artifacts, "temp_files", None)
    for path, size in temp_files() if callable(temp_files) else []:
        report.items.append(GcItem(kind="temp", what=path, bytes=size))  # removed once a day old
    if apply:
        _delete_blobs(service, doomed)
        report.lost_jobs = service.reap()
        sweep = getattr(service.artifacts, "sweep_temp", None)
        report.temp_files = int(sweep()) if callable(sweep) else 0
    return report


def _old(service: JobService, digest: str) -> bool:
    """Written or reused longer ago than `jobs.gc_grace`. A writer stores (or reuses, which
    refreshes the age) before it commits its reference, so a young blob may be about to be
    referenced again."""
    try:
        written = service.artifacts.modified_at(digest)
    except NotFound:
        return False  # already gone: nothing to free
    return written <= datetime.now(UTC) - timedelta(seconds=service.settings.gc_grace)


def _delete_blobs(service: JobService, digests: list[str]) -> None:
    """Delete blobs whose last reference expired, re-checking references and age just before."""
    for digest in digests:
        with service._guard.lookup() as unit:
            if digest in unit.refs.digests():
                continue  # referenced again since the listing: keep it
        if _old(service, digest):
            with suppress(NotFound):
                service.artifacts.delete(digest)
