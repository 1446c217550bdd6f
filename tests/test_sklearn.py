"""Autologging scikit-learn fits into runs, and models logged with skops and loaded back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import leanops.sklearn
from leanops.audit import AuditFilter
from leanops.runs import RunStatus
from leanops.workspace import Workspace


@pytest.fixture
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"age": rng.integers(18, 80, 60).astype(float), "spend": rng.random(60) * 100})
    return X, (X["spend"] > 50).to_numpy().astype(int)


@pytest.fixture
def autolog(ws: Workspace) -> Iterator[None]:
    leanops.sklearn.autolog(workspace=ws)
    yield
    leanops.sklearn.autolog(disable=True)


def test_fit_inside_a_run_logs_params_score_and_model(ws: Workspace, autolog: None, data, tmp_path: Path) -> None:  # noqa: ANN001
    X, y = data
    with ws.runs.start("autolog", code_dir=tmp_path) as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y)
    record = ws.runs.get(run.id)
    assert "steps" in record.params and "memory" in record.params
    assert record.metrics["training_score"] == pytest.approx(model.score(X, y))
    assert "models/model/model.skops" in record.artifacts and "models/model/leanops-model.json" in record.artifacts
    loaded = ws.runs.load_model(run.id)
    assert (loaded.predict(X) == model.predict(X)).all()
    # Only the outermost fit logs: one model, one score, however many inner fits ran.
    assert [a for a in record.artifacts if a.endswith("model.skops")] == ["models/model/model.skops"]


def test_fit_outside_a_run_opens_and_closes_one(ws: Workspace, autolog: None, data) -> None:  # noqa: ANN001
    X, y = data
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    frame = ws.runs.search()
    assert len(frame) == 1 and frame.loc[0, "purpose"] == "autolog: GridSearchCV.fit"
    assert frame.loc[0, "status"] in (RunStatus.FINISHED, RunStatus.INCOMPLETE)
    assert frame.loc[0, "params.cv"] == "2"


def test_disable_restores_fit(ws: Workspace, data) -> None:  # noqa: ANN001
    X, y = data
    leanops.sklearn.autolog(workspace=ws)
    assert getattr(LogisticRegression.fit, "__leanops_autolog__", False)
    leanops.sklearn.autolog(disable=True)
    assert not getattr(LogisticRegression.fit, "__leanops_autolog__", False)
    LogisticRegression().fit(X, y)
    assert ws.runs.search().empty


def test_log_model_records_content_addressed_refs(ws: Workspace, data, tmp_path: Path) -> None:  # noqa: ANN001
    X, y = data
    model = LogisticRegression().fit(X, y)
    with ws.runs.start("manual", code_dir=tmp_path) as run:
        names = run.log_model(model, "churn", input_example=X)
    assert names == ["models/churn/leanops-model.json", "models/churn/model.skops"]
    refs = {r.name: r for r in ws.runs.artifacts_of(run.id)}
    assert all(ws.artifacts.exists(refs[n].digest) for n in names)
    with ws._store.transaction() as unit:
        logged = unit.audit.query(AuditFilter(action="run.log", resource=f"Run:{run.id}"))
    assert any(r.details.get("op") == "model" and r.details.get("flavor") == "sklearn" for r in logged)
