"""The cost ledger: every metered use becomes one tagged, priced, idempotent entry.

An entry's `source` names what was metered ("job_attempt:<job>:<n>", "storage:<digest>:<day>")
and is unique in the store, so metering the same attempt or the same stored day twice — a
retry, a second process, a re-run of `sync` — never charges twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from leanops.cost.prices import PriceTable, Usage, compute_usage, cost_of, storage_usage

# The tags every entry carries when known; a budget, a report or a unit cost groups by them.
TAG_KEYS = ("project", "owner", "zone", "model", "job", "cost_center")
# The tags that attribute spend to someone: an entry without one of them is "untagged".
DEFAULT_ATTRIBUTION = ("project", "owner", "cost_center")


class CostKind(StrEnum):
    JOB_ATTEMPT = "job_attempt"
    STORAGE = "storage"
    SERVING = "serving"
    PREDICTIONS = "predictions"
    MONITORING = "monitoring"
    EVALUATION = "evaluation"


class LedgerEntry(BaseModel):
    """One charge: what was used, what it cost, and whom it is attributed to."""

    id: int | None = None
    at: datetime = Field(description="When the use ended (or the start of the metered day)")
    kind: CostKind
    usage: Usage = Field(default_factory=Usage)
    amount: Decimal
    currency: str = "USD"
    tags: dict[str, str] = Field(default_factory=dict)
    source: str = Field(description="What was metered; unique, so nothing is charged twice")
    refs: dict[str, Any] = Field(default_factory=dict, description="job_id, attempt, run_id, digest, …")
    untagged: list[str] = Field(default_factory=list, description="Attribution tags it lacks")
    recorded_at: datetime | None = None
    recorded_by: str = ""

    @property
    def zone(self) -> str:
        return self.tags.get("zone", "")

    @property
    def project(self) -> str:
        return self.tags.get("project", "")


class LedgerRepo(Protocol):
    """The ledger's storage; `add` is idempotent on `source`."""

    def add(self, entry: LedgerEntry) -> bool: ...
    def entries(
        self,
        start: datetime,
        end: datetime,
        *,
        zone: str | None = None,
        project: str | None = None,
        kind: str | None = None,
        model: str | None = None,
    ) -> list[LedgerEntry]: ...
    def total(
        self, start: datetime, end: datetime, *, zone: str | None = None, project: str | None = None
    ) -> Decimal: ...
    def charged_for_jobs(self, job_ids: list[str]) -> dict[str, Decimal]: ...
    def existing_sources(self, sources: list[str]) -> set[str]: ...
    def last_at(self, kind: str) -> datetime | None: ...
    def entries_for_model(self, model: str, run_ids: Iterable[str]) -> list[LedgerEntry]: ...
    def unmetered_attempts(self, limit: int = 1000) -> list[tuple[Any, Any]]: ...


def missing_tags(tags: Mapping[str, str], required: Iterable[str]) -> list[str]:
    """The required tags `tags` lacks or leaves empty."""
    return [key for key in required if not str(tags.get(key, "")).strip()]


def clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Text tags without empty values or leanops' internal `leanops.*` bookkeeping."""
    return {str(k): str(v) for k, v in tags.items() if v not in (None, "") and not str(k).startswith("leanops.")}


def job_tags(job: Any, project: str, defaults: Mapping[str, str]) -> dict[str, str]:
    """A job's ledger tags: its own tags over the project's defaults, plus owner, zone and name."""
    own = clean_tags(getattr(job, "tags", {}) or {})
    return {**defaults, "project": project, **own, "owner": job.owner, "zone": str(job.zone), "job": job.name}


def job_reserved_usage(job: Any) -> Usage:
    """What a job may use at most: its declared resources held for its whole deadline."""
    res = dict(getattr(job, "resources", {}) or {})
    return compute_usage(
        cpu=float(res.get("cpu", 1.0)),
        memory_bytes=int(res.get("memory", 0)),
        gpu=int(res.get("gpu", 0)),
        seconds=float(job.deadline_seconds),
    )


def attempt_entry(
    job: Any,
    attempt: Any,
    prices: PriceTable,
    *,
    currency: str,
    project: str,
    defaults: Mapping[str, str],
    attribution: Iterable[str],
) -> LedgerEntry:
    """The charge for one job attempt: declared resources × wall time (reserved capacity is what a
    provider bills), with the sampled CPU seconds and peak memory kept alongside for comparison."""
    res = dict(job.resources or {})
    metering = attempt.metering
    usage = compute_usage(
        cpu=float(res.get("cpu", 1.0)),
        memory_bytes=int(res.get("memory", 0)),
        gpu=int(res.get("gpu", 0)),
        seconds=float(metering.wall_seconds),
    )
    tags = job_tags(job, project, defaults)
    refs = {
        "job_id": job.id,
        "attempt": attempt.n,
        "run_id": job.run_id,
        "sweep_id": job.sweep_id,
        "wall_seconds": metering.wall_seconds,
        "cpu_seconds": metering.cpu_seconds,
        "peak_rss_bytes": metering.peak_rss_bytes,
        "status": attempt.status,
    }
    return LedgerEntry(
        at=attempt.ended_at or attempt.started_at,
        kind=CostKind.JOB_ATTEMPT,
        usage=usage,
        amount=cost_of(usage, prices),
        currency=currency,
        tags=tags,
        source=f"job_attempt:{job.id}:{attempt.n}",
        refs={k: v for k, v in refs.items() if v is not None},
        untagged=missing_tags(tags, attribution),
    )


def storage_entries(
    refs: Iterable[Any],
    since: datetime,
    until: datetime,
    prices: PriceTable,
    *,
    currency: str,
    project: str,
    defaults: Mapping[str, str],
    attribution: Iterable[str],
) -> list[LedgerEntry]:
    """One entry per stored blob per complete UTC day in [since, until): size × time kept that day.

    A blob several records point to is charged once, to the earliest reference (content
    addressing stores it once). The first and last days are prorated to creation and expiry.
    """
    first: dict[str, Any] = {}
    for ref in sorted(refs, key=lambda r: r.created_at):
        first.setdefault(ref.digest, ref)
    entries = []
    day0 = since.replace(hour=0, minute=0, second=0, microsecond=0)
    for ref in first.values():
        day = max(day0, ref.created_at.replace(hour=0, minute=0, second=0, microsecond=0))
        while day + timedelta(days=1) <= until:
            start, end = max(day, ref.created_at), day + timedelta(days=1)
            if ref.expires_at is not None:
                end = min(end, ref.expires_at)
            if end > start:
                entries.append(
                    _storage_entry(
                        ref,
                        day,
                        (end - start).total_seconds(),
                        prices,
                        currency=currency,
                        project=project,
                        defaults=defaults,
                        attribution=attribution,
                    )
                )
            if ref.expires_at is not None and ref.expires_at <= day + timedelta(days=1):
                break
            day += timedelta(days=1)
    return entries


def _storage_entry(
    ref: Any,
    day: datetime,
    seconds: float,
    prices: PriceTable,
    *,
    currency: str,
    project: str,
    defaults: Mapping[str, str],
    attribution: Iterable[str],
) -> LedgerEntry:
    usage = storage_usage(ref.size, seconds)
    tags = {**defaults, "project": project, "owner": ref.created_by, "zone": ref.zone}
    if ref.owner_kind == "model":
        tags["model"] = str(ref.owner_id).split("/")[0]
    elif ref.owner_kind == "dataset":
        tags["dataset"] = str(ref.owner_id)
    return LedgerEntry(
        at=day,
        kind=CostKind.STORAGE,
        usage=usage,
        amount=cost_of(usage, prices),
        currency=currency,
        tags=tags,
        source=f"storage:{ref.digest}:{day:%Y-%m-%d}",
        refs={
            "digest": ref.digest,
            "owner_kind": ref.owner_kind,
            "owner_id": ref.owner_id,
            "name": ref.name,
            "size": ref.size,
        },
        untagged=missing_tags(tags, attribution),
    )
