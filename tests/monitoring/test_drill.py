"""The incident drill against a live server, and the runbook template."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from leanops.cli import app
from leanops.errors import ValidationError
from leanops.monitoring.drill import run_drill
from tests.monitoring.test_monitor import CONFIG
from tests.serving.test_server import _Uvicorn


@pytest.mark.slow
def test_a_drift_drill_detects_alerts_rolls_back_and_fails_no_request(served, server) -> None:  # noqa: ANN001
    (served.root / "monitoring").mkdir(exist_ok=True)
    (served.root / "monitoring" / "churn.yaml").write_text(CONFIG)
    served.carol.models.promote("churn", 2, "production", reason="v2")
    app_, _ = server(poll_seconds=0.2)
    with _Uvicorn(app_) as url:
        report = run_drill(served.carol, "churn", "production", url, timeout=30, poll=0.5)
    assert report.passed, [(s.name, s.detail) for s in report.steps if not s.passed]
    assert [s.name for s in report.steps] == [
        "server serves the model",
        "training data to send",
        "normal traffic raises no critical alert",
        "the drift is detected by a critical alert",
        "the alert says why it matters, what to do, and links a runbook",
        "the zone was rolled back automatically",
        "the server swapped to the rollback version",
        "no request failed during the incident",
    ]
    assert report.time_to_detect_s is not None and report.time_to_rollback_s >= report.time_to_detect_s
    assert report.failed == 0 and report.requests > 10
    assert served.admin.models.get("churn", "production").version == 1


def test_a_drill_without_its_runbook_fails_that_step(served, server) -> None:  # noqa: ANN001
    (served.root / "monitoring").mkdir(exist_ok=True)
    (served.root / "monitoring" / "churn.yaml").write_text(CONFIG.replace("    runbook: runbooks/churn.md\n", ""))
    served.carol.models.promote("churn", 2, "production", reason="v2")
    app_, _ = server(poll_seconds=0.2)
    with _Uvicorn(app_) as url:
        report = run_drill(served.carol, "churn", "production", url, timeout=30, poll=0.5)
    failed = [s.name for s in report.steps if not s.passed]
    assert failed == ["the alert says why it matters, what to do, and links a runbook"] and not report.passed
    with pytest.raises(ValidationError, match="Unknown drill scenario"):
        run_drill(served.carol, "churn", "production", url, scenario="meteor")


def test_runbook_new_writes_the_template_once(served, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(served.root)
    runner = CliRunner()
    first = runner.invoke(app, ["runbook", "churn"])
    assert first.exit_code == 0, first.output
    text = (served.root / "runbooks" / "churn.md").read_text()
    assert "Owner: churn-team" in text and "leanops rollback churn --zone production --reason" in text
    assert "## Symptoms" in text and "## Likely causes" in text and "## Immediate mitigation" in text
    again = runner.invoke(app, ["runbook", "churn"])
    assert again.exit_code != 0
