"""Serving fixtures: a git-tracked project where carol has approved churn v1 and v2 for
production (v1 serving), and helpers to build a server over it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from leanops.policy import Role
from leanops.workspace import Workspace

RULES = """\
owner: churn-team
evaluation:
  dataset: holdout@v1
  target: label
thresholds: ["accuracy >= 0.6"]
test_command: {python} -c "pass"
first_release: true
monitoring:
  drift_threshold: 0.2
"""


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def train(who: Workspace, x: pd.DataFrame, y: pd.Series, c: float) -> str:
    from sklearn.linear_model import LogisticRegression

    tags = {"owner": "bob", "cost_center": "ml"}
    with who.runs.start(f"churn C={c}", params={"C": c}, datasets=["train@v1"], features=list(x), tags=tags) as run:
        model = LogisticRegression(C=c).fit(x, y)
        run.log_metric("train_accuracy", model.score(x, y))
        run.log_model(model, input_example=x)
    return run.id


@pytest.fixture
def served(ws: Workspace, as_user, project: Path) -> SimpleNamespace:  # noqa: ANN001
    git(project, "init", "-q")
    git(project, "commit", "-q", "--allow-empty", "-m", "init")
    git(project, "remote", "add", "origin", "https://git.example.com/churn.git")
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.users.add("carol", roles=[Role.APPROVER])
    rng = np.random.default_rng(11)
    x = pd.DataFrame({"age": rng.normal(40, 10, 300), "spend": rng.normal(0, 1, 300)})
    frame = x.assign(label=((x.age - 40) / 10 + x.spend > 0).astype(int))
    frame[:200].to_csv(project / "train.csv", index=False)
    frame[200:].to_csv(project / "holdout.csv", index=False)
    bob, carol = as_user("bob"), as_user("carol")
    bob.datasets.register(project / "train.csv", name="train")
    bob.datasets.register(project / "holdout.csv", name="holdout")
    (project / "models").mkdir()
    (project / "models" / "churn.yaml").write_text(RULES.format(python=sys.executable))
    git(project, "add", "models")
    git(project, "commit", "-q", "-m", "rules")
    for c in (1.0, 0.01):
        mv = bob.models.register(train(bob, x[:200], frame.label[:200], c), "churn")
        carol.models.evaluate("churn", mv.version, "production")
        carol.models.approve("churn", mv.version, "production", reason="passes")
    carol.models.promote("churn", 1, "production", reason="first release")
    return SimpleNamespace(admin=ws, bob=bob, carol=carol, root=project, x=x, frame=frame)


@pytest.fixture
def server(served: SimpleNamespace):  # noqa: ANN201
    """Build a server app as carol (`server(zone=…)`), closing each one at the end."""
    from leanops.serving.server import build

    built = []

    def make(zone: str = "production", endpoint: str = "test:0", **settings: object):  # noqa: ANN202
        for key, value in settings.items():
            setattr(served.carol.settings.serving, key, value)
        app, live = build("churn", zone, endpoint=endpoint, workspace=served.carol)
        built.append(live)
        return app, live

    return make
