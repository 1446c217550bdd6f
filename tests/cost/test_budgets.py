"""Budgets: forecast arithmetic, each threshold firing exactly once, and audited changes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from leanops.cost.budgets import Basis, Budget, crossings, forecast_linear, month_of, rearmed
from leanops.errors import Conflict, PolicyDenied
from leanops.policy import Role
from leanops.zones import Zone

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
FEB1 = datetime(2026, 2, 1, tzinfo=UTC)


# --- pure rules -----------------------------------------------------------------------------


def test_forecast_is_linear_to_the_end_of_the_period() -> None:
    assert forecast_linear(Decimal(10), JAN1, datetime(2026, 1, 11, tzinfo=UTC), FEB1) == Decimal("31.000000")
    assert forecast_linear(Decimal(7), JAN1, datetime(2026, 1, 1, 12, tzinfo=UTC), FEB1) == Decimal("434.000000")
    assert forecast_linear(Decimal(5), JAN1, JAN1, FEB1) == Decimal("5.000000")  # nothing elapsed: no extrapolation
    assert forecast_linear(Decimal(5), JAN1, datetime(2026, 3, 1, tzinfo=UTC), FEB1) == Decimal(
        "5.000000"
    )  # past the end


def test_month_of_handles_december() -> None:
    period = month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (period.label, period.start, period.end) == (
        "2026-12",
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_crossings_skip_what_fired_and_cover_both_bases() -> None:
    budget = Budget(zone=Zone.SANDBOX, monthly=100, owner="alice")
    found = crossings(Decimal(85), Decimal(120), budget, already_fired=[("actual", 50)])
    assert [(str(c.basis), c.percent) for c in found] == [
        ("actual", 80),
        ("forecast", 50),
        ("forecast", 80),
        ("forecast", 100),
    ]
    assert crossings(Decimal(85), None, budget, []) == crossings(Decimal(85), None, budget, [])[:2]
    assert [c.percent for c in crossings(Decimal("0.01"), None, Budget(zone="sandbox", monthly=0, owner="a"), [])] == [
        50,
        80,
        100,
    ]


def test_raising_a_budget_rearms_only_what_is_no_longer_reached() -> None:
    fired = [("actual", 50), ("actual", 80), ("actual", 100)]
    raised = Budget(zone=Zone.SANDBOX, monthly=100, owner="alice")
    assert rearmed(Decimal(60), None, raised, fired) == [("actual", 80), ("actual", 100)]


# --- the service ----------------------------------------------------------------------------


def _fired(cws) -> Counter:  # noqa: ANN001
    return Counter((n["basis"], n["percent"]) for n in cws.notifier.sent if "basis" in n)


def test_each_actual_threshold_alerts_the_owner_exactly_once(cws, spend, clock) -> None:  # noqa: ANN001
    cws.users.add("bob")  # a budget's owner is a user who can be alerted
    clock.set(datetime(2026, 6, 1, 12, tzinfo=UTC))  # too early in the month for a forecast
    cws.cost.set_budget("sandbox", 100, owner="bob")
    spend(40)
    assert _fired(cws) == Counter()
    spend(10)  # 50
    assert _fired(cws) == Counter({("actual", 50): 1})
    spend(35)  # 85
    spend(1)
    assert _fired(cws) == Counter({("actual", 50): 1, ("actual", 80): 1})
    spend(20)  # 106: crosses 100
    spend(5)
    assert cws.cost.check_budgets() == []
    assert _fired(cws) == Counter({("actual", 50): 1, ("actual", 80): 1, ("actual", 100): 1})
    assert {n["owner"] for n in cws.notifier.sent if "basis" in n} == {"bob"}


def test_forecast_thresholds_fire_once_on_the_projection(cws, spend, clock) -> None:  # noqa: ANN001
    cws.cost.set_budget("staging", 100, owner="alice")
    spend(20, zone="staging")  # half of June gone: forecast 40
    assert _fired(cws) == Counter()
    spend(6, zone="staging")  # 26 → forecast 52
    assert _fired(cws) == Counter({("forecast", 50): 1})
    status = cws.cost.show_budget("staging")
    assert (status.spent, status.forecast) == (Decimal("26.000000"), Decimal("52.000000"))
    clock.advance(days=5)  # 26 over 20 of 30 days → 39: the forecast falls, nothing new fires
    assert cws.cost.check_budgets() == []
    spend(30, zone="staging")  # 56 → forecast 84
    assert _fired(cws) == Counter({("forecast", 50): 1, ("actual", 50): 1, ("forecast", 80): 1})


def test_a_project_budget_counts_only_its_project(cws, spend) -> None:  # noqa: ANN001
    cws.cost.set_budget("sandbox", 10, owner="alice", project="churn")
    spend(8, project="fraud")
    assert cws.cost.show_budget("sandbox", "churn").spent == 0
    spend(6, project="churn")
    assert cws.cost.show_budget("sandbox", "churn").spent == Decimal("6.000000")
    assert _fired(cws)[("actual", 50)] == 1


def test_budget_changes_are_audited_and_admin_only(cws, as_user) -> None:  # noqa: ANN001
    cws.users.add("bob", roles=[Role.DEVELOPER])
    cws.cost.set_budget("sandbox", 50, owner="alice")
    cws.cost.set_budget("sandbox", 80, owner="alice")
    with pytest.raises(PolicyDenied):
        as_user("bob").cost.set_budget("sandbox", 1000, owner="bob")
    records = [r for r in cws.audit.tail(50) if r.action == "budget.set"]
    assert [(r.decision, r.actor, r.details.get("monthly"), r.details.get("previous")) for r in records] == [
        ("allow", "alice", "50.000000", None),
        ("allow", "alice", "80.000000", "50.000000"),
        ("deny", "bob", "1000.000000", None),
    ]
    assert records[0].resource == "Budget:sandbox/*"
    assert cws.cost.show_budget("sandbox").budget.monthly == Decimal("80.000000")


def test_budgets_from_leanops_yaml_are_in_force_until_replaced(cws) -> None:  # noqa: ANN001
    from leanops.config import InitialBudget

    cws.users.add("carol")  # a budget's owner is a user who can be alerted
    cws.settings.budgets.initial = [InitialBudget(zone="production", monthly=500, owner="carol")]
    [status] = cws.cost.list_budgets()
    assert (status.budget.key, status.budget.origin, status.budget.owner) == ("production/*", "config", "carol")
    cws.cost.set_budget("production", 600, owner="carol")
    assert [(s.budget.monthly, s.budget.origin) for s in cws.cost.list_budgets()] == [(Decimal("600.000000"), "store")]


def test_production_overspend_needs_an_approver_with_a_reason(cws, as_user) -> None:  # noqa: ANN001
    cws.users.add("bob", roles=[Role.DEVELOPER])
    cws.users.add("carol", roles=[Role.APPROVER])
    cws.cost.set_budget("production", 100, owner="alice")
    with pytest.raises(PolicyDenied):
        as_user("bob", zone="production").cost.approve_overspend("production", 20, reason="launch week")
    carol = as_user("carol", zone="production")
    carol.notifier = cws.notifier
    overspend = carol.cost.approve_overspend("production", 20, reason="launch week")
    status = cws.cost.show_budget("production")
    assert (status.overspend, status.left, status.overspends[0].approved_by) == (
        Decimal("20.000000"),
        Decimal("120.000000"),
        "carol",
    )
    assert any(
        r.action == "budget.overspend" and r.details["reason"] == "launch week" and r.decision == "allow"
        for r in cws.audit.tail(20)
    )
    assert cws.notifier.sent[-1]["owner"] == "alice" and overspend.period == "2026-06"
    with pytest.raises(Conflict, match="hard ceiling"):
        cws.cost.approve_overspend("sandbox", 5, reason="no")


def test_basis_values_are_stable() -> None:
    assert [str(b) for b in Basis] == ["actual", "forecast"]
