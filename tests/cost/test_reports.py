"""Reports: totals equal the ledger's sum, change against the previous period, groupings, renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leanops.artifacts import ArtifactRef
from leanops.cost import Usage
from leanops.cost.ledger import CostKind, LedgerEntry
from leanops.cost.reports import Window, build_report, to_json, to_markdown, windows
from leanops.errors import ValidationError
from tests.cost.conftest import T0

DAY = timedelta(days=1)


def _e(amount: str, at: datetime, kind: str = "serving", **tags: str) -> LedgerEntry:
    return LedgerEntry(at=at, kind=kind, amount=Decimal(amount), tags=tags, source=f"{at}:{amount}:{tags}")


def test_windows_are_whole_days_ending_today() -> None:
    week, before = windows("week", datetime(2026, 6, 16, 15, 30, tzinfo=UTC))
    assert (week.start, week.end) == (datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 6, 17, tzinfo=UTC))
    assert (before.start, before.end) == (datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 10, tzinfo=UTC))
    month, _ = windows("month", T0)
    assert month.end - month.start == 30 * DAY


def test_groups_change_and_movers() -> None:
    now = [_e("5", T0, owner="alice", model="churn"), _e("3", T0, owner="bob"), _e("1.5", T0, owner="bob")]
    before = [_e("2", T0 - 8 * DAY, owner="alice"), _e("10", T0 - 8 * DAY, owner="carol")]
    window = Window(start=T0 - 7 * DAY, end=T0 + DAY)
    report = build_report(now, before, period="week", by="owner", currency="USD", window=window, previous_window=window)
    assert [(r.group, r.amount, r.previous, r.change, r.change_pct) for r in report.rows] == [
        ("alice", Decimal("5.000000"), Decimal("2.000000"), Decimal("3.000000"), 150.0),
        ("bob", Decimal("4.500000"), Decimal("0.000000"), Decimal("4.500000"), None),
        ("carol", Decimal("0.000000"), Decimal("10.000000"), Decimal("-10.000000"), -100.0),
    ]
    assert (report.total, report.previous_total, report.change_pct) == (
        Decimal("9.500000"),
        Decimal("12.000000"),
        -20.8,
    )
    assert [m.group for m in report.movers] == ["carol", "bob", "alice"]
    by_model = build_report(
        now, before, period="week", by="model", currency="USD", window=window, previous_window=window
    )
    assert {r.group: r.amount for r in by_model.rows}["(none)"] == Decimal("4.500000")
    with pytest.raises(ValidationError):
        build_report(now, before, period="week", by="colour", currency="USD", window=window, previous_window=window)


def test_markdown_and_json_renderings() -> None:
    window = Window(start=T0 - 6 * DAY, end=T0 + DAY)
    report = build_report(
        [_e("0.000042", T0, owner="alice")],
        [],
        period="week",
        by="owner",
        currency="EUR",
        window=window,
        previous_window=window,
    )
    text = to_markdown(report)
    assert "| alice | 0.000042 | 0.00 | +0.000042 (new) |" in text and "**0.000042 EUR**" in text
    data = to_json(report)
    assert data["total"] == "0.000042" and json.dumps(data)


def test_report_totals_equal_the_ledger_sum(cws, spend, clock) -> None:  # noqa: ANN001
    spend(2, owner="alice", model="churn", at=T0 - 2 * DAY)
    spend(3, owner="bob", model="fraud", zone="staging", at=T0 - DAY)
    spend(4, owner="bob", cost_center="growth", at=T0)
    spend(7, owner="carol", at=T0 - 10 * DAY)  # the previous week
    spend(100, owner="carol", at=T0 - 30 * DAY)  # in neither window
    report = cws.cost.report("week", by="owner")
    ledger = cws.cost.ledger(report.window.start, report.window.end)
    assert report.total == sum(e.amount for e in ledger) == sum(r.amount for r in report.rows) == Decimal("9.000000")
    assert report.entries == len(ledger) == 3
    assert (report.previous_total, report.change) == (Decimal("7.000000"), Decimal("2.000000"))
    assert {r.group: r.amount for r in cws.cost.report("week", by="zone").rows} == {
        "sandbox": Decimal("6.000000"),
        "staging": Decimal("3.000000"),
    }
    assert {r.group: r.amount for r in cws.cost.report("week", by="tag:cost_center").rows} == {
        "ml": Decimal("5.000000"),
        "growth": Decimal("4.000000"),
    }
    month = cws.cost.report("month", by="model")
    assert month.total == Decimal("16.000000") and {r.group for r in month.rows} == {"churn", "fraud", "(none)"}


def test_idle_endpoints_and_artifacts_past_their_ttl(cws, clock) -> None:  # noqa: ANN001
    tags = {"owner": "alice", "cost_center": "ml", "model": "churn"}
    cws.cost.record_usage("serving", Usage(endpoint_hours=24), tags=tags | {"endpoint": "churn-a"}, source="up:a")
    cws.cost.record_usage("serving", Usage(endpoint_hours=24), tags=tags | {"endpoint": "churn-b"}, source="up:b")
    cws.cost.record_usage("serving", Usage(endpoint_hours=24), tags=tags | {"endpoint": "churn-c"}, source="up:c")
    cws.cost.record_usage(CostKind.PREDICTIONS, Usage(requests=40), tags=tags | {"endpoint": "churn-c"}, source="p:c")
    cws.cost.record_usage(CostKind.PREDICTIONS, Usage(requests=5000), tags=tags | {"endpoint": "churn-b"}, source="p:b")
    with cws._store.transaction() as unit:
        unit.refs.add(
            ArtifactRef(
                digest="e" * 64,
                owner_kind="job",
                owner_id="j1",
                name="attempt-1/log",
                size=2**30,
                zone="sandbox",
                created_at=T0 - 3 * DAY,
                created_by="alice",
                expires_at=T0 - DAY,
            )
        )
    report = cws.cost.report("week")
    assert [(e.endpoint, e.cost, e.requests) for e in report.idle_endpoints] == [
        ("churn-a", Decimal("2.400000"), 0),
        ("churn-c", Decimal("2.400000"), 40),  # little traffic against its cost: flagged too
    ]
    assert "churn-c (churn): 2.40 USD for 40 predictions" in to_markdown(report)
    [expired] = report.expired_artifacts
    assert (expired.name, expired.owner, expired.monthly_cost) == ("attempt-1/log", "job:j1", Decimal("0.023000"))
    assert "Artifacts kept past their TTL" in to_markdown(report)
