"""The ledger: idempotent entries, job attempts and stored days metered, untagged spend handled per zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leanops.artifacts import ArtifactRef
from leanops.cost import CostKind, Usage
from leanops.cost.prices import GIB
from leanops.errors import PolicyDenied, ValidationError
from leanops.events import EventBus
from leanops.jobs.models import AttemptRecord, JobRecord, Metering
from tests.cost.conftest import T0


def _job(**kw: object) -> JobRecord:
    base = dict(
        id="j" * 32,
        name="train-churn",
        owner="bob",
        submitted_by="bob",
        zone="sandbox",
        executor="local",
        spec={},
        tags={"owner": "bob", "model": "churn", "cost_center": "growth"},
        resources={"cpu": 2.0, "memory": 4 * GIB, "gpu": 0},
        deadline_seconds=3600.0,
        created_at=T0,
        run_id="r1",
    )
    return JobRecord(**(base | kw))


def _attempt(n: int = 1, wall: float = 1800.0) -> AttemptRecord:
    start = T0 + timedelta(hours=n - 1)
    return AttemptRecord(
        job_id="j" * 32,
        n=n,
        status="succeeded",
        started_at=start,
        ended_at=start + timedelta(seconds=wall),
        metering=Metering(wall_seconds=wall, cpu_seconds=wall * 1.5, peak_rss_bytes=GIB),
    )


def test_the_same_source_is_never_charged_twice(cws, spend) -> None:  # noqa: ANN001
    assert spend(3, source="serving:e1:2026-06-15") is not None
    assert spend(3, source="serving:e1:2026-06-15") is None
    [entry] = cws.cost.ledger()
    assert entry.amount == Decimal("3.000000") and entry.kind is CostKind.SERVING


def test_a_job_attempt_is_charged_for_its_declared_resources_over_its_wall_time(cws) -> None:  # noqa: ANN001
    job = _job()
    first = cws.cost.record_attempt(job, _attempt(1, wall=1800))
    assert cws.cost.record_attempt(job, _attempt(1, wall=1800)) is None  # a retried hand-off
    cws.cost.record_attempt(job, _attempt(2, wall=900))
    # 2 cores × 0.5 h × 0.05 + 4 GB × 0.5 h × 0.005 = 0.06
    assert first.amount == Decimal("0.060000")
    assert first.tags == {
        "project": "demo",
        "owner": "bob",
        "zone": "sandbox",
        "model": "churn",
        "job": "train-churn",
        "cost_center": "growth",
    }
    assert first.refs["cpu_seconds"] == 2700.0 and first.refs["run_id"] == "r1"
    entries = cws.cost.ledger()
    assert [e.source for e in entries] == [f"job_attempt:{'j' * 32}:1", f"job_attempt:{'j' * 32}:2"]
    assert sum(e.amount for e in entries) == Decimal("0.090000")


def test_untagged_spend_is_refused_in_production(cws) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied, match="production-needs-tags"):
        cws.cost.record_usage(
            "serving", Usage(endpoint_hours=1), tags={"zone": "production", "owner": "alice"}, source="p1"
        )
    with pytest.raises(ValidationError, match="cost_center"):  # staging requires the same tags, by rule
        cws.cost.record_usage(
            "serving", Usage(endpoint_hours=1), tags={"zone": "staging", "owner": "alice"}, source="s1"
        )
    entry = cws.cost.record_usage(
        "serving",
        Usage(endpoint_hours=1),
        source="p2",
        tags={"zone": "production", "owner": "alice", "cost_center": "ml"},
    )
    assert entry.untagged == [] and [e.source for e in cws.cost.ledger()] == ["p2"]


def test_untagged_spend_is_recorded_and_reported_in_sandbox(cws) -> None:  # noqa: ANN001
    entry = cws.cost.record_usage("monitoring", Usage(cpu_hours=10), tags={"owner": "alice"}, source="m1")
    assert entry.untagged == ["cost_center"]
    report = cws.cost.report("week")
    assert (report.untagged.entries, report.untagged.amount, report.untagged.missing) == (
        1,
        Decimal("0.500000"),
        {"cost_center": 1},
    )


def test_default_tags_attribute_spend(cws) -> None:  # noqa: ANN001
    cws.settings.budgets.default_tags = {"cost_center": "platform"}
    entry = cws.cost.record_usage("monitoring", Usage(cpu_hours=1), tags={"owner": "alice"}, source="m2")
    assert entry.tags["cost_center"] == "platform" and entry.untagged == []


def test_storage_is_charged_per_stored_day_once(cws, clock) -> None:  # noqa: ANN001
    created = T0 - timedelta(days=3) + timedelta(hours=12)  # June 13, noon
    with cws._store.transaction() as unit:
        for name in ("a", "b"):  # two records, one blob: charged once
            unit.refs.add(
                ArtifactRef(
                    digest="d" * 64,
                    owner_kind="dataset",
                    owner_id="customers",
                    name=name,
                    size=GIB,
                    zone="sandbox",
                    created_at=created,
                    created_by="bob",
                )
            )
    first = cws.cost.sync()
    assert (first.attempts, first.storage) == (0, 3)  # the 13th (half), 14th, 15th; the 16th is not over
    assert cws.cost.sync().storage == 0
    clock.advance(days=1)
    assert cws.cost.sync().storage == 1
    entries = cws.cost.ledger(zone="sandbox", kind="storage")
    assert [e.at.day for e in entries] == [13, 14, 15, 16]
    assert entries[1].amount == Decimal("0.000756")  # 1 GB × 24 h ÷ 730 h × 0.023
    assert entries[0].amount == Decimal("0.000378")
    assert entries[0].tags["dataset"] == "customers" and entries[0].tags["owner"] == "bob"


def test_ledger_window_defaults_to_this_month(cws, spend) -> None:  # noqa: ANN001
    spend(1, at=datetime(2026, 5, 31, 23, tzinfo=UTC))
    spend(2)
    assert [e.amount for e in cws.cost.ledger()] == [Decimal("2.000000")]


def test_sync_charges_attempts_whose_runner_had_no_ledger(cws, project) -> None:  # noqa: ANN001
    import sys

    from tests.cost.conftest import write_spec

    # Long enough that the charge is at least one micro-unit: 0.3 s × 1 cpu × 0.05/h ≈ 4e-6.
    spec = write_spec(
        project, "unwired", [sys.executable, "-c", "import time; time.sleep(0.3)"], tags={"cost_center": "ml"}
    )
    cws.jobs.bus = EventBus()  # a runner from before cost was wired, or one that died mid-hand-off
    job = cws.jobs.run(spec)
    assert cws.cost.ledger() == []
    first = cws.cost.sync()
    assert (first.attempts, cws.cost.sync().attempts) == (1, 0)
    [entry] = cws.cost.ledger()
    assert entry.source == f"job_attempt:{job.id}:1" and entry.tags["job"] == "unwired" and entry.amount > 0
