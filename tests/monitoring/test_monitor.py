"""Monitoring end to end: traffic through a real server, checks over its Parquet log, a
critical drift alert with what/why/what-to-do and a runbook, and the automatic rollback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leanops.adapters.memory import RecordingNotifier
from leanops.alerts import State, Tier
from leanops.errors import ConfigError

CONFIG = """\
window: 1h
checks:
  - check: drift
    warning: {threshold: 0.1, for: 10m}
    critical: {threshold: 0.25}
    why: Inputs no longer look like the data the model learned from.
    next_steps: Compare the upstream feed with the training snapshot.
    runbook: runbooks/churn.md
  - check: latency_p95_ms
    warning: {threshold: 10000, for: 5m}
  - check: accuracy
    warning: {threshold: 0.5}
  - check: null_rate
    critical: {threshold: 0.5}
"""


def _traffic(served, server, frame, *, labels=None) -> list[str]:  # noqa: ANN001
    app, _ = server()
    ids = []
    with TestClient(app) as client:
        for start in range(0, len(frame), 50):
            chunk = frame.iloc[start : start + 50]
            ids.append(client.post("/predict", json={"records": chunk.to_dict("records")}).json()["request_id"])
        for request_id, label in zip(ids, labels or [], strict=False):
            client.post("/feedback", json={"request_id": request_id, "label": label})
    return ids


@pytest.fixture
def monitored(served):  # noqa: ANN001, ANN201
    (served.root / "monitoring").mkdir(exist_ok=True)
    (served.root / "monitoring" / "churn.yaml").write_text(CONFIG)
    served.carol.notifier = RecordingNotifier()  # type: ignore[misc]
    served.carol.__dict__.pop("monitoring", None)
    served.carol.models.promote("churn", 2, "production", reason="v2")  # v1 is the rollback target
    return served


def test_normal_traffic_raises_nothing_and_drift_fires_a_critical_that_rolls_back(monitored, server) -> None:  # noqa: ANN001
    carol = monitored.carol
    _traffic(monitored, server, monitored.x[:200])
    calm = carol.monitoring.run("churn", "production")
    assert [e for e in calm.events if e.kind == "fire"] == []
    drift = next(r for r in calm.results if r.check == "drift")
    assert drift.value is not None and drift.value < 0.1 and drift.rows == 200
    assert next(r for r in calm.results if r.check == "accuracy").no_data  # no labels yet: no data, not a breach

    shifted = monitored.x[:200].assign(age=monitored.x.age[:200] + 40)
    _traffic(monitored, server, shifted)
    report = carol.monitoring.run("churn", "production")
    fired = [e.alert for e in report.events if e.kind == "fire"]
    assert {(a.check, a.tier) for a in fired} == {("drift", Tier.CRITICAL)}  # the warning waits for its 10m
    assert report.rollback is not None and (report.rollback["from"], report.rollback["to"]) == (2, 1)
    assert carol.models.get("churn", "production").version == 1
    [critical] = fired
    assert critical.rollback == report.rollback
    text = critical.text()
    assert "What happened: drift = " in text and "churn v2 in production" in text
    assert "Why it matters: Inputs no longer look like" in text and "Runbook: runbooks/churn.md" in text
    [page] = [m for m in carol.notifier.sent if "[CRITICAL]" in m["subject"]]  # type: ignore[attr-defined]
    assert page["subject"] == "[CRITICAL] churn@production: drift" and page["severity"] == "critical"
    assert "Rolled back" in page["body"] and page["alert"] == critical.id
    moves = carol.models.history("churn").moves
    assert moves[-1].action == "rollback" and "critical alert" in moves[-1].reason

    again = carol.monitoring.run("churn", "production")
    assert [e for e in again.events if e.kind == "fire"] == []  # deduplicated while it holds
    stored = carol.monitoring.alerts("churn", active=True)
    assert {(a.check, a.tier, a.state) for a in stored} >= {("drift", Tier.CRITICAL, State.FIRING)}
    acked = carol.monitoring.ack(critical.id[:8])
    assert acked.acked_by == "carol" and carol.monitoring.alert(critical.id).acked_by == "carol"


def test_labels_feed_accuracy_and_calibration(monitored, server) -> None:  # noqa: ANN001
    frame = monitored.frame[:200]
    labels = [int(v) for v in frame.label[::50]]  # the first row of each request's label
    _traffic(monitored, server, frame.drop(columns="label"), labels=labels)
    accuracy = next(r for r in monitored.carol.monitoring.run("churn", "production").results if r.check == "accuracy")
    assert accuracy.rows == 4 * 50 and 0 <= accuracy.value <= 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checks:\n  - check: vibes\n    warning: {threshold: 1}\n", "unknown check 'vibes'"),
        (
            "checks:\n  - check: drift\n    warning: {threshold: 0.3}\n    critical: {threshold: 0.2}\n",
            "thresholds out of order",
        ),
        (
            "checks:\n  - check: accuracy\n    warning: {threshold: 0.7}\n    critical: {threshold: 0.9}\n",
            "lower is worse",
        ),
        ("checks:\n  - check: drift\n", "at least one of info, warning or critical"),
        ("windw: 1h\n", "unknown key"),
    ],
)
def test_a_bad_monitoring_config_names_file_and_key(served, text: str, message: str) -> None:  # noqa: ANN001
    (served.root / "monitoring").mkdir(exist_ok=True)
    (served.root / "monitoring" / "churn.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        served.carol.monitoring.run("churn", "production")
    assert "monitoring/churn.yaml" in str(err.value)


def test_an_empty_window_is_no_data_not_drift(monitored) -> None:  # noqa: ANN001
    report = monitored.carol.monitoring.run("churn", "production")
    assert all(r.no_data for r in report.results if r.check != "error_rate") and report.events == []


def test_the_html_report_plots_drift_latency_and_lists_alerts(monitored, server, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from leanops.cli import app

    _traffic(monitored, server, monitored.x[:200].assign(age=monitored.x.age[:200] + 40))
    monitored.carol.monitoring.run("churn", "production")
    monkeypatch.chdir(monitored.root)
    monkeypatch.setenv("LEANOPS_TOKEN", monitored.carol._token)
    result = CliRunner().invoke(app, ["monitor", "report", "churn", "--zone", "production", "-o", "report.html"])
    assert result.exit_code == 0, result.output
    page = (monitored.root / "report.html").read_text()
    assert "Drift per feature (drift) against the training profile" in page and "Latency p95 per minute" in page
    assert page.count("plotly.js v") <= 2 and "<td>drift</td>" in page and "critical" in page
