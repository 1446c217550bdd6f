"""The alert state machine: tiers, `for:`, deduplication, resolution, suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leanops.alerts import Observation, State, Tier, step, suppress
from leanops.zones import Zone

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def seen(tier: Tier, breached: bool, value: float = 0.3, **extra: object) -> Observation:
    return Observation(
        check="drift:age",
        tier=tier,
        breached=breached,
        value=value,
        threshold=0.2,
        window="last 1h, 500 rows",
        version=3,
        why="Inputs no longer look like training data.",
        next_steps="Check the upstream feed.",
        runbook="runbooks/churn.md",
        **extra,
    )


def run(observations: list[tuple[int, Observation]]):  # noqa: ANN201
    alert, last, events = None, None, []
    for minute, obs in observations:
        alert, out = step(
            alert if alert and alert.active else None,
            obs,
            model="churn",
            zone=Zone.PRODUCTION,
            now=T0 + timedelta(minutes=minute),
        )
        events += [(minute, e.kind, e.send) for e in out]
        last = alert or last
    return last, events


def test_a_warning_fires_only_once_its_condition_held_for_its_period() -> None:
    w = lambda b: seen(Tier.WARNING, b, for_seconds=600)  # noqa: E731
    alert, events = run([(0, w(True)), (5, w(True)), (9, w(True)), (10, w(True)), (15, w(True))])
    assert events == [(10, "fire", True)] and alert.state is State.FIRING and alert.since == T0
    _, blip = run([(0, w(True)), (5, w(False)), (6, w(True)), (12, w(True))])
    assert blip == []  # the clear at minute 5 restarted the clock: not yet held for 10 minutes


def test_critical_fires_at_once_dedupes_and_resolves_with_a_message() -> None:
    c = lambda b: seen(Tier.CRITICAL, b)  # noqa: E731
    alert, events = run([(0, c(True)), (1, c(True)), (2, c(True)), (3, c(False)), (4, c(False))])
    assert events == [(0, "fire", True), (3, "resolve", True)]
    assert alert.state is State.RESOLVED and alert.resolved_at == T0 + timedelta(minutes=3)


def test_info_goes_to_the_digest_not_the_pager() -> None:
    _, events = run([(0, seen(Tier.INFO, True)), (1, seen(Tier.INFO, False))])
    assert events == [(0, "fire", False), (1, "resolve", False)]


def test_a_firing_critical_suppresses_warnings_for_the_same_model() -> None:
    crit, [fire] = step(None, seen(Tier.CRITICAL, True), model="churn", zone=Zone.PRODUCTION, now=T0)
    _, warn = step(None, seen(Tier.WARNING, True), model="churn", zone=Zone.PRODUCTION, now=T0)
    _, other = step(None, seen(Tier.WARNING, True), model="other", zone=Zone.PRODUCTION, now=T0)
    sent = suppress([fire, *warn, *other], active=[crit])
    assert [(e.alert.model, e.alert.tier, e.send) for e in sent] == [
        ("churn", Tier.CRITICAL, True),
        ("churn", Tier.WARNING, False),
        ("other", Tier.WARNING, True),
    ]


def test_every_alert_says_what_happened_why_it_matters_what_to_do_and_links_a_runbook() -> None:
    alert, _ = step(None, seen(Tier.CRITICAL, True, value=0.31), model="churn", zone=Zone.PRODUCTION, now=T0)
    text = alert.text()
    assert "What happened: drift:age = 0.31 (threshold >= 0.2) over last 1h, 500 rows, churn v3 in production." in text
    assert "Why it matters: Inputs no longer look like training data." in text
    assert "What to do: Check the upstream feed." in text and "Runbook: runbooks/churn.md" in text
