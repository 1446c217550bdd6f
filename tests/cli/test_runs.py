"""`leanops runs`: list with filters and sorting, show, compare, validate's exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leanops.workspace import Workspace


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> dict[str, str]:  # noqa: ANN001
    for key in [k for k in os.environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert cli("init", "proj", "--project", "churn", "--owner", "alice").exit_code == 0
    monkeypatch.chdir(tmp_path / "proj")
    config = tmp_path / "proj" / "leanops.yaml"
    text = config.read_text()
    assert "  # required_fields: [" in text
    config.write_text(
        text.replace("  # required_fields: [", "  required_fields: [owner, purpose, params, metrics]\n  # [")
    )
    made = {}
    with Workspace.from_config() as ws:
        assert ws.settings.runs.required_fields == ["owner", "purpose", "params", "metrics"]
        for name, lr, auc in (("low", 0.01, 0.81), ("high", 0.01, 0.93), ("other", 0.1, 0.99)):
            with ws.runs.start(f"lr sweep {name}", params={"lr": lr}, tags={"sweep": "s1"}, code_dir=tmp_path) as run:
                run.log_metric("auc", auc)
            made[name] = run.id
        with ws.runs.start("no params", code_dir=tmp_path) as run:
            run.log_metric("auc", 0.5)
        made["bare"] = run.id
    return made


def test_list_filters_and_sorts(runs: dict[str, str], cli) -> None:  # noqa: ANN001
    result = cli(
        "runs", "list", "--param", "lr=0.01", "--metric", "auc>0.8", "--sort", "metrics.auc", "--desc", "--json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["run_id"] for r in rows] == [runs["high"], runs["low"]]
    assert rows[0]["metrics.auc"] == 0.93 and rows[0]["params.lr"] == "0.01"
    table = cli("runs", "list", "--tag", "sweep=s1", "--owner", "alice", "--sort", "metrics.auc")
    assert table.exit_code == 0 and "runs (3)" in table.output and "metrics.auc" in table.output
    assert runs["other"][:12] in table.output and runs["bare"][:12] not in table.output


def test_list_reports_bad_filters_without_traceback(runs: dict[str, str], cli) -> None:  # noqa: ANN001
    result = cli("runs", "list", "--metric", "auc>>1")
    assert result.exit_code == 3 and "Traceback" not in result.output and "auc>>1" in result.output
    assert cli("runs", "list", "--status", "exploded").exit_code == 2  # not a status: a usage error


def test_show_and_compare(runs: dict[str, str], cli) -> None:  # noqa: ANN001
    shown = cli("runs", "show", runs["high"])
    assert shown.exit_code == 0 and "lr sweep high" in shown.output and "param lr" in shown.output
    assert json.loads(cli("runs", "show", runs["high"], "--json").output)["params"] == {"lr": "0.01"}
    compared = cli("runs", "compare", runs["low"], runs["other"])
    assert compared.exit_code == 0 and "params.lr" in compared.output and "0.99" in compared.output
    assert cli("runs", "show", "nope").exit_code == 4


def test_validate_says_what_is_missing(runs: dict[str, str], cli) -> None:  # noqa: ANN001
    ok = cli("runs", "validate", runs["high"])
    assert ok.exit_code == 0 and "every required field" in ok.output
    bad = cli("runs", "validate", runs["bare"])
    assert bad.exit_code == 3 and "params" in bad.output
    assert json.loads(cli("runs", "validate", runs["bare"], "--json").output)["missing"] == ["params"]
