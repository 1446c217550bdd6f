"""`leanops budget` and `leanops cost`: set, list, show, estimate, report and unit from the shell."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from leanops.cost import Usage
from leanops.workspace import Workspace


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:  # noqa: ANN001
    for key in [k for k in os.environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert cli("init", "proj", "--project", "churn", "--owner", "alice").exit_code == 0
    folder = tmp_path / "proj"
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LEANOPS_NOTIFY__SINKS", '["file:notices.log"]')
    (folder / "jobs").mkdir()
    spec = {
        "name": "train",
        "entrypoint": [sys.executable, "-c", "pass"],
        "owner": "alice",
        "deadline": "2h",
        "resources": {"cpu": 4, "memory": "8Gi"},
        "tags": {"model": "churn"},
    }
    (folder / "jobs" / "train.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_budget_set_list_show_and_audit(proj: Path, cli) -> None:  # noqa: ANN001
    result = cli("budget", "set", "--zone", "sandbox", "--monthly", "50", "--owner", "alice")
    assert result.exit_code == 0, result.output
    assert "budget sandbox/*: 50.00 USD/month, owner alice, alerts at 50%, 80%, 100%" in result.output
    listed = json.loads(cli("budget", "list", "--json").output)
    assert [(b["budget"]["key"], b["budget"]["owner"], b["spent"]) for b in listed] == [
        ("sandbox/*", "alice", "0.000000")
    ]
    shown = cli("budget", "show", "--zone", "sandbox")
    assert shown.exit_code == 0 and "refused (hard ceiling)" in shown.output
    assert cli("budget", "show", "--zone", "production").exit_code == 4
    assert cli("budget", "set", "--zone", "sandbox", "--monthly", "lots", "--owner", "alice").exit_code == 3
    assert "budget.set" in cli("audit", "tail", "-n", "5").output


def test_a_developer_cannot_set_a_budget(proj: Path, cli, token_env) -> None:  # noqa: ANN001
    assert cli("users", "add", "bob", "--role", "developer").exit_code == 0
    result = cli("budget", "set", "--zone", "sandbox", "--monthly", "1000", "--owner", "bob", env=token_env("bob"))
    assert result.exit_code == 7 and "may not budget.set" in result.output


def test_estimate_before_running(proj: Path, cli) -> None:  # noqa: ANN001
    result = cli("cost", "estimate", "jobs/train.yaml")
    # 4 cores × 2 h × 0.05 + 8 GB × 2 h × 0.005 = 0.48
    assert result.exit_code == 0 and "0.48 USD" in result.output and "admitted" in result.output
    cli("budget", "set", "--zone", "sandbox", "--monthly", "0.40", "--owner", "alice")
    data = json.loads(cli("cost", "estimate", "jobs/train.yaml", "--trials", "3", "--json").output)
    assert (data["reserved"], data["admitted"]) == ("1.440000", False)
    assert "refused" in cli("cost", "estimate", "jobs/train.yaml").output


def test_report_formats_and_totals(proj: Path, cli) -> None:  # noqa: ANN001
    with Workspace.from_config() as ws:
        for n, owner in enumerate(("alice", "bob", "bob")):
            ws.cost.record_usage(
                "serving",
                Usage(endpoint_hours=10),
                source=f"s{n}",
                tags={"owner": owner, "cost_center": "ml", "model": "churn", "endpoint": "churn-api"},
            )
    data = json.loads(cli("cost", "report", "--week", "--by", "owner", "--format", "json").output)
    assert Decimal(data["total"]) == Decimal(3) == sum(Decimal(r["amount"]) for r in data["rows"])
    assert [r["group"] for r in data["rows"]] == ["bob", "alice"]
    markdown = cli("cost", "report", "--month", "--by", "model", "-f", "markdown").output
    assert "| churn | 3.00 | 0.00 | +3.00 (new) |" in markdown
    table = cli("cost", "report")
    assert table.exit_code == 0 and "total" in table.output and "underused endpoint" in table.output
    assert cli("cost", "report", "--by", "colour").exit_code == 3


def test_unit_economics_and_sync(proj: Path, cli) -> None:  # noqa: ANN001
    assert cli("jobs", "run", "jobs/train.yaml").exit_code == 0
    assert "0 job attempt(s)" in cli("cost", "sync").output  # charged as it ended
    unit = cli("cost", "unit", "churn")
    assert unit.exit_code == 0 and "no predictions yet" in unit.output and "1 runs" in unit.output
    data = json.loads(cli("cost", "unit", "churn", "--json").output)
    assert data["training_runs"] == 1 and Decimal(data["cost_per_training_run"]) > 0
