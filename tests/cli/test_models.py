"""`leanops models …`, `leanops promote` and `leanops rollback` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from leanops.policy import Role
from leanops.workspace import Workspace

RULES = f"""\
owner: churn-team
evaluation: {{dataset: holdout@v1, target: label}}
thresholds: ["auc >= 0.8", "latency_p95_ms <= 2000"]
test_command: {sys.executable} -c "print('model tests ok')"
first_release: true
monitoring: {{drift_threshold: 0.2}}
"""


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def proj(project: Path):  # noqa: ANN201
    """A git-tracked project with bob (developer), carol (approver), two datasets and promotion rules."""
    git(project, "init", "-q")
    git(project, "commit", "-q", "--allow-empty", "-m", "init")
    git(project, "remote", "add", "origin", "https://git.example.com/churn.git")
    with Workspace.from_config(project) as ws:
        ws.bootstrap()
        ws.users.add("bob", roles=[Role.DEVELOPER])
        ws.users.add("carol", roles=[Role.APPROVER])
        for env, name in ((BOB, "bob"), (CAROL, "carol")):
            env.clear()
            env["LEANOPS_TOKEN"] = ws.users.create_token(name).plaintext
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"age": rng.normal(40, 10, 240), "spend": rng.normal(0, 1, 240)})
    frame = x.assign(label=((x.age - 40) / 10 + x.spend > 0).astype(int))
    frame[:160].to_csv(project / "train.csv", index=False)
    frame[160:].to_csv(project / "holdout.csv", index=False)
    with Workspace.from_config(project, token=BOB["LEANOPS_TOKEN"]) as bob:
        bob.datasets.register(project / "train.csv", name="train")
        bob.datasets.register(project / "holdout.csv", name="holdout")
    (project / "models").mkdir()
    (project / "models" / "churn.yaml").write_text(RULES)
    git(project, "add", "models")
    git(project, "commit", "-q", "-m", "promotion rules")
    return SimpleNamespace(root=project, x=x[:160], y=frame.label[:160], commit=git(project, "rev-parse", "HEAD"))


def train(proj, *, c: float = 1.0, **start) -> str:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression

    start = {
        "datasets": ["train@v1"],
        "features": ["age", "spend"],
        "tags": {"owner": "bob", "cost_center": "ml"},
    } | start
    with (
        Workspace.from_config(proj.root, token=BOB["LEANOPS_TOKEN"]) as bob,
        bob.runs.start(f"C={c}", params={"C": c}, **start) as run,
    ):
        run.log_model(LogisticRegression(C=c).fit(proj.x, proj.y), input_example=proj.x)
        run.log_metric("train_auc", 0.9)
    return run.id


BOB: dict[str, str] = {}  # filled by `proj` with the token that acts as bob
CAROL: dict[str, str] = {}


def test_register_list_show_and_lineage(proj, cli) -> None:  # noqa: ANN001
    run_id = train(proj)
    done = cli("models", "register", run_id, "--name", "churn", env=BOB)
    assert done.exit_code == 0 and "Registered churn/v1" in done.output, done.output
    listed = cli("models", "list")
    assert listed.exit_code == 0 and "churn" in listed.output and run_id[:12] in listed.output
    shown = cli("models", "show", "churn", "1")
    assert shown.exit_code == 0 and "sha256:" in shown.output and "age:float64" in shown.output
    tree = cli("models", "lineage", "churn", "v1")
    assert tree.exit_code == 0, tree.output
    for expected in (f"run {run_id} [finished] by bob", "train@v1", proj.commit, "features age, spend"):
        assert expected in tree.output
    data = json.loads(cli("models", "lineage", "churn", "--json").output)
    assert data["model"]["lineage"]["code"]["commit"] == proj.commit
    assert data["model"]["lineage"]["datasets"][0]["ref"] == "train@v1"


def test_incomplete_run_is_refused_with_the_missing_fields(proj, cli) -> None:  # noqa: ANN001
    run_id = train(proj, datasets=[], features=[])
    done = cli("models", "register", run_id, "--name", "churn", env=BOB)
    assert done.exit_code == 3 and "lacks required metadata" in done.output
    assert "datasets" in done.output and "features" in done.output and "Traceback" not in done.output


def test_evaluate_approve_promote_history_and_rollback(proj, cli) -> None:  # noqa: ANN001
    assert cli("models", "register", train(proj), "--name", "churn", env=BOB).exit_code == 0
    ev = cli("models", "evaluate", "churn", "1", "--zone", "staging", env=BOB)
    assert ev.exit_code == 0 and "Evidence passes for staging" in ev.output and "auc >= 0.8" in ev.output
    # A developer carries their own model to staging; production stays an approver's action.
    assert cli("promote", "churn", "1", "--to", "staging", "--reason", "holdout ok", env=BOB).exit_code == 0

    assert cli("models", "evaluate", "churn", "1", "--zone", "production", env=CAROL).exit_code == 0
    early = cli("promote", "churn", "1", "--to", "production", "--reason", "go", env=CAROL)
    assert early.exit_code == 7 and "production-deploy-needs-approval" in early.output
    own = cli("models", "approve", "churn", "1", "--zone", "production", "--reason", "mine", env=BOB)
    assert own.exit_code == 7 and "no-self-approval" in own.output
    ok = cli("models", "approve", "churn", "1", "--zone", "production", "--reason", "tests and holdout pass", env=CAROL)
    assert ok.exit_code == 0 and "Approved churn/v1 for production by carol" in ok.output
    assert cli("promote", "churn", "1", "--to", "production", "--reason", "first release", env=CAROL).exit_code == 0

    lonely = cli("rollback", "churn", "--zone", "production", "--reason", "panic", env=CAROL)
    assert lonely.exit_code == 5 and "no earlier approved version" in lonely.output and "hint:" in lonely.output

    assert cli("models", "register", train(proj, c=0.3), "--name", "churn", env=BOB).exit_code == 0
    assert cli("models", "evaluate", "churn", "2", "--zone", "production", env=CAROL).exit_code == 0
    assert cli("models", "approve", "churn", "2", "-z", "production", "-r", "better", env=CAROL).exit_code == 0
    assert cli("promote", "churn", "2", "--to", "production", "--reason", "v2", env=CAROL).exit_code == 0
    back = cli("rollback", "churn", "--zone", "production", "--reason", "latency alert", env=CAROL)
    assert back.exit_code == 0 and "production: v2 → v1 by carol" in back.output

    hist = cli("models", "history", "churn")
    assert hist.exit_code == 0 and "production → v1" in hist.output and "latency alert" in hist.output
    moves = json.loads(cli("models", "history", "churn", "--json").output)["moves"]
    assert [(m["zone"], m["action"], m["version"], m["actor"]) for m in moves] == [
        ("staging", "promote", 1, "bob"),
        ("production", "promote", 1, "carol"),
        ("production", "promote", 2, "carol"),
        ("production", "rollback", 1, "carol"),
    ]


def test_bad_input_gives_clear_errors_and_exit_codes(proj, cli) -> None:  # noqa: ANN001
    assert cli("models", "show", "nope").exit_code == 4
    assert cli("models", "history", "nope").exit_code == 4
    assert cli("models", "register", train(proj), "--name", "churn", env=BOB).exit_code == 0
    missing = cli("models", "evaluate", "churn", "9", "--zone", "staging")
    assert missing.exit_code == 4 and "No version 9 of churn" in missing.output
    zone = cli("promote", "churn", "1", "--to", "prod", "--reason", "x", env=CAROL)
    assert zone.exit_code == 3 and "Unknown zone 'prod'" in zone.output
    rules = proj.root / "models" / "churn.yaml"
    rules.write_text(RULES.replace('"auc >= 0.8"', '"auc => 0.8"'))
    bad = cli("models", "evaluate", "churn", "1", "--zone", "staging", env=BOB)
    assert bad.exit_code == 2 and f"{rules}:3: key 'thresholds.0'" in bad.output, bad.output
    rules.write_text(RULES.replace('"auc >= 0.8"', '"auc >= 0.9999"'))
    git(proj.root, "commit", "-q", "-am", "stricter rules")
    failing = cli("models", "evaluate", "churn", "1", "--zone", "staging", "--json", env=BOB)
    assert failing.exit_code == 1 and json.loads(failing.output)["passed"] is False
