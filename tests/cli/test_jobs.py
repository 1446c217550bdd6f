"""`leanops jobs …` and `leanops gc` through the real entry point: output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "jobs" / "fixtures"
SPEC = """\
name: {name}
entrypoint: {entry}
owner: alice
deadline: {deadline}
params: {{x: 1.5}}
retry: {{max_attempts: 2, backoff: {{initial: 0.05, max: 0.1, jitter: 0}}}}
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:  # noqa: ANN001
    for key in [k for k in os.environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert cli("init", "proj", "--project", "demo", "--owner", "alice").exit_code == 0
    root = tmp_path / "proj"
    monkeypatch.chdir(root)
    shutil.copy(FIXTURES / "entrypoints.py", root / "entrypoints.py")
    (root / "jobs").mkdir()
    for name, entry, deadline in (
        ("ok", "entrypoints:ok", 20),
        ("slow", "entrypoints:sleep", 1),
        ("bug", "entrypoints:bug", 20),
    ):
        (root / "jobs" / f"{name}.yaml").write_text(SPEC.format(name=name, entry=entry, deadline=deadline))
    monkeypatch.setenv("LEANOPS_JOBS__GRACE_SECONDS", "0.3")
    monkeypatch.setenv("LEANOPS_NOTIFY__SINKS", '["stdout"]')
    return root


def test_run_list_show_logs(proj: Path, cli) -> None:  # noqa: ANN001
    result = cli("jobs", "run", "jobs/ok.yaml", "-p", "x=2")
    assert result.exit_code == 0, result.output
    assert "attempt 1: succeeded" in result.output and "metrics  score=4" in result.output
    jobs = json.loads(cli("jobs", "list", "--json").output)
    assert [(j["name"], j["status"], j["params"]) for j in jobs] == [("ok", "succeeded", {"x": 2.0})]
    job_id = jobs[0]["id"]
    shown = cli("jobs", "show", job_id[:8])
    assert shown.exit_code == 0 and "succeeded" in shown.output and "peak MiB" in shown.output
    assert json.loads(cli("jobs", "show", job_id, "--json").output)["run_id"] == jobs[0]["run_id"]
    assert cli("jobs", "logs", job_id).output == "ok x=2.0\n"
    assert "jobs (1)" in cli("jobs", "list").output


def test_timeouts_and_failures_exit_non_zero_with_the_alert(proj: Path, cli) -> None:  # noqa: ANN001
    slow = cli("jobs", "run", "jobs/slow.yaml")
    assert slow.exit_code == 124 and "timed_out" in slow.output
    assert "stopping (deadline)" in slow.output and "[error] Job slow timed out" in slow.output
    assert "owner=alice" in slow.output
    bug = cli("jobs", "run", "jobs/bug.yaml", "--json")
    assert bug.exit_code == 1 and json.loads(bug.output)["reason"] == "ValueError: a bug, not worth retrying"
    assert not list((proj / ".leanops" / "scratch").iterdir())  # torn down both times


def test_bad_input_is_an_error_not_a_traceback(proj: Path, cli) -> None:  # noqa: ANN001
    (proj / "jobs" / "broken.yaml").write_text(
        "name: b\nentrypoint: entrypoints:ok\ndeadline: 20\nretry: {max_attempts: 0}\n"
    )
    result = cli("jobs", "run", "jobs/broken.yaml")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "broken.yaml: key 'owner': required" in result.output
    assert "broken.yaml:4: key 'retry.max_attempts'" in result.output
    assert cli("jobs", "run", "jobs/ok.yaml", "-p", "nope=1").exit_code == 3
    assert cli("jobs", "run", "jobs/missing.yaml").exit_code == 3
    assert cli("jobs", "show", "0123456789ab").exit_code == 4


def test_cancel_of_an_ended_job_is_a_conflict(proj: Path, cli) -> None:  # noqa: ANN001
    cli("jobs", "run", "jobs/ok.yaml")
    job_id = json.loads(cli("jobs", "list", "--json").output)[0]["id"]
    result = cli("jobs", "cancel", job_id)
    assert result.exit_code == 5 and "already ended" in result.output


def test_sweep_shows_the_best_trials(proj: Path, cli) -> None:  # noqa: ANN001
    result = cli("jobs", "sweep", "jobs/ok.yaml", "--grid", "x=1,3,2", "--metric", "score", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "3 succeeded" in result.output and "best 2 by score (max)" in result.output
    best = result.output[result.output.index("best 2") :]
    assert best.index("x=3") < best.index("x=2") and "x=1" not in best
    random = cli("jobs", "sweep", "jobs/ok.yaml", "--random", "2", "--space", "x=uniform:0:1", "--seed", "1", "--json")
    assert len(json.loads(random.output)["trials"]) == 2


def test_gc_is_a_dry_run_unless_applied(proj: Path, cli) -> None:  # noqa: ANN001
    dry = cli("gc")
    assert dry.exit_code == 0 and "would free 0 bytes" in dry.output and "--apply" in dry.output
    applied = json.loads(cli("gc", "--apply", "--json").output)
    assert applied["applied"] is True and applied["bytes"] == 0
