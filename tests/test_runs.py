"""Experiment tracking: required metadata, buffered logging, crash safety, search, guardrails."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import leanops
from leanops.audit import AuditFilter
from leanops.errors import Conflict, IncompleteMetadata, NotFound, PolicyDenied, ValidationError
from leanops.policy import Role
from leanops.runs import RUN_FIELDS, RunStatus
from leanops.runs.models import MAX_PARAM_LENGTH
from leanops.workspace import Workspace
from leanops.zones import Zone

REPO = Path(__file__).resolve().parents[1]


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def tracked(ws: Workspace, project: Path) -> Workspace:
    """The project under git with a remote, and one registered dataset: a run can be complete."""
    (project / "train.py").write_text("print('train')\n")
    git(project, "init", "-q")
    git(project, "add", "train.py")
    git(project, "commit", "-qm", "training code")
    git(project, "remote", "add", "origin", "https://alice:s3cret@git.example.com/churn.git")
    (project / "customers.csv").write_text("age,plan,churned\n31,basic,0\n45,pro,1\n23,basic,0\n")
    ws.datasets.register(project / "customers.csv", name="customers")
    return ws


def complete_run(ws: Workspace, tmp: Path, **metrics: float) -> str:
    (tmp / "notes.txt").write_text("notes")
    with ws.runs.start("baseline", datasets=["customers"], features=["age", "plan"], tags={"team": "growth"}) as run:
        run.log_params({"lr": 0.01, "depth": 3})
        run.log_metrics(metrics or {"auc": 0.9})
        run.log_artifact(tmp / "notes.txt")
    return run.id


def audit(ws: Workspace, **flt: str) -> list:
    with ws._store.transaction() as unit:
        return unit.audit.query(AuditFilter(**flt))


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# --- capture and the required metadata schema -----------------------------------------------


def test_complete_run_captures_everything_and_is_a_candidate(tracked: Workspace, tmp_path: Path) -> None:
    run_id = complete_run(tracked, tmp_path, auc=0.91)
    record = tracked.runs.get(run_id)
    assert record.status == RunStatus.FINISHED and record.missing == []
    assert record.owner == "alice" and record.approval == "unreviewed" and record.end_time >= record.start_time
    assert len(record.code.commit) == 40 and record.code.dirty is False
    assert record.code.remote == "https://git.example.com/churn.git"  # credentials never stored
    assert [d.ref for d in record.datasets] == ["customers@v1"] and record.data_class == "internal"
    assert record.features == ["age", "plan"] and record.params == {"depth": "3", "lr": "0.01"}
    assert record.metrics == {"auc": 0.91} and record.tags == {"team": "growth"}
    env = record.environment
    assert env.python == sys.version.split()[0] and env.packages_count > 10
    packages = tracked.artifacts.get_bytes(env.packages_digest).decode()
    assert "scikit-learn==" in packages
    assert {"environment/packages.txt", "notes.txt"} <= set(record.artifacts)
    assert tracked.runs.validate(run_id).complete
    assert tracked.runs.require_candidate(run_id).id == run_id
    refs = tracked.runs.artifacts_of(run_id)
    assert all(r.owner_kind == "run" and r.owner_id == run_id for r in refs)
    created = audit(tracked, action="run.create", resource=f"Run:{run_id}")
    assert len(created) == 1 and created[0].decision == "allow"


def test_missing_fields_end_incomplete_and_never_become_candidates(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("no git, no data", code_dir=tmp_path) as run:
        run.log_metric("loss", 0.5)
    assert run.status == RunStatus.INCOMPLETE
    result = ws.runs.validate(run.id)
    assert not result.complete
    assert {"code_commit", "code_dirty", "code_remote", "datasets", "features", "params", "artifacts", "tags"} <= set(
        result.missing
    )
    assert "metrics" not in result.missing and result.required == list(RUN_FIELDS)
    with pytest.raises(IncompleteMetadata) as err:
        ws.runs.require_candidate(run.id)
    assert "code_commit" in err.value.message and "datasets" in err.value.details["missing"]


def test_required_fields_come_from_config(ws: Workspace, tmp_path: Path) -> None:
    ws.settings.runs.required_fields = ["owner", "purpose", "metrics"]
    with ws.runs.start("minimal", code_dir=tmp_path) as run:
        run.log_metric("loss", 0.1)
    assert run.status == RunStatus.FINISHED
    assert ws.runs.require_candidate(run.id).status == RunStatus.FINISHED
    with ws.runs.start("", code_dir=tmp_path) as empty:
        pass
    assert empty.status == RunStatus.INCOMPLETE and ws.runs.validate(empty.id).missing == ["purpose", "metrics"]


def test_failed_run_is_not_a_candidate(ws: Workspace, tmp_path: Path) -> None:
    ws.settings.runs.required_fields = ["metrics"]
    with pytest.raises(RuntimeError), ws.runs.start("crashes", code_dir=tmp_path) as run:
        run.log_metric("loss", 1.0)
        raise RuntimeError("diverged")
    assert ws.runs.get(run.id).status == RunStatus.FAILED
    assert ws.runs.get(run.id).metrics == {"loss": 1.0}  # flushed on the way out
    with pytest.raises(Conflict, match="failed"):
        ws.runs.require_candidate(run.id)


def test_start_run_sdk_opens_the_project(tracked: Workspace, project: Path) -> None:
    with leanops.start_run(purpose="sdk", datasets=["customers"], features=["age"]) as run:
        assert leanops.runs.active_run() is run
        run.log_metric("auc", 0.8, step=1)
    assert leanops.runs.active_run() is None
    assert tracked.runs.get(run.id).metrics == {"auc": 0.8}
    assert "start_run" in leanops.__all__


# --- bad input -----------------------------------------------------------------------------


def test_unknown_dataset_is_refused_before_anything_is_recorded(tracked: Workspace) -> None:
    with pytest.raises(NotFound, match="nope"):
        tracked.runs.start("bad data", datasets=["nope"])
    assert not audit(tracked, action="run.create")
    assert tracked.runs.search().empty


def test_non_numeric_metrics_and_bad_names_are_refused(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("bad input", code_dir=tmp_path) as run:
        for value in ("abc", None, object(), [1.0]):
            with pytest.raises(ValidationError, match="not a number"):
                run.log_metric("loss", value)  # type: ignore[arg-type]
        for name in ("", "a" * 300, "bad\nname", 3, ["loss"]):
            with pytest.raises(ValidationError, match="name"):
                run.log_metric(name, 1.0)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="Step"):
            run.log_metric("loss", 1.0, step=1.5)  # type: ignore[arg-type]
        run.log_metric("loss", "0.25")  # float-convertible text is a number
        run.log_metric("loss", np.float32(0.5))
    assert ws.runs.metric_history(run.id, "loss")["value"].tolist() == [0.25, 0.5]


def test_nan_and_inf_are_stored_and_flagged(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("unstable", code_dir=tmp_path) as run:
        for step, value in enumerate([0.5, math.nan, math.inf, -math.inf]):
            run.log_metric("loss", value, step=step)
        run.log_metric("gap", math.inf)
    history = ws.runs.metric_history(run.id, "loss")
    flags = history["flag"].tolist()
    assert flags[1:] == ["nan", "inf", "-inf"] and not isinstance(flags[0], str)
    values = history["value"].tolist()
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2:] == [math.inf, -math.inf]
    assert ws.runs.get(run.id).metrics["gap"] == math.inf
    found = ws.runs.search(metrics=["loss<0"])
    assert found["run_id"].tolist() == []  # a flagged point is not a number to compare with


def test_the_same_step_logged_twice_keeps_both_points(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("repeat", code_dir=tmp_path) as run:
        run.log_metric("loss", 1.0, step=3)
        run.log_metric("loss", 0.5, step=3)
        run.log_metric("loss", 0.9, step=2)
    assert ws.runs.metric_history(run.id, "loss")["value"].tolist() == [0.9, 1.0, 0.5]
    assert ws.runs.get(run.id).metrics == {"loss": 0.5}  # latest: highest step, then newest


def test_oversized_param_is_refused_by_name(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("params", code_dir=tmp_path) as run:
        run.log_params({"vocab": "x" * MAX_PARAM_LENGTH})
        with pytest.raises(ValidationError, match="'config'.*6,001"):
            run.log_params({"config": "y" * (MAX_PARAM_LENGTH + 1)})
        with pytest.raises(Conflict, match="params never change"):
            run.log_param("vocab", "other")
        run.log_param("vocab", "x" * MAX_PARAM_LENGTH)  # the same value again is fine
    assert ws.runs.get(run.id).params == {"vocab": "x" * MAX_PARAM_LENGTH}


def test_nothing_is_logged_after_the_run_ended(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("ends", code_dir=tmp_path) as run:
        run.log_metric("loss", 1.0)
    (tmp_path / "late.txt").write_text("late")
    for late in (
        lambda: run.log_metric("loss", 2.0),
        lambda: run.log_params({"a": 1}),
        lambda: run.set_tag("k", "v"),
        lambda: run.log_artifact(tmp_path / "late.txt"),
    ):
        with pytest.raises(Conflict, match="has ended"):
            late()
    run.flush()
    record = ws.runs.get(run.id)
    assert record.metrics == {"loss": 1.0} and not record.params and not record.tags
    assert len(ws.runs.metric_history(run.id, "loss")) == 1


# --- buffering, batching, auditing -----------------------------------------------------------


def test_points_are_written_in_batches_with_one_audit_record_each(ws: Workspace, tmp_path: Path) -> None:
    ws.settings.runs.flush_size = 1000
    ws.settings.runs.flush_interval_seconds = 60
    run = ws.runs.start("batched", code_dir=tmp_path)
    for i in range(999):
        run.log_metric("loss", 1 / (i + 1))
    assert len(ws.runs.metric_history(run.id, "loss")) == 0  # still in memory
    run.log_metric("loss", 0.0)  # the 1000th point wakes the flusher
    wait_for(lambda: len(ws.runs.metric_history(run.id, "loss")) == 1000)
    batches = [r for r in audit(ws, action="run.log", resource=f"Run:{run.id}") if r.details.get("points")]
    assert [b.details["points"] for b in batches] == [1000]
    run.end()


def test_completeness_counts_what_other_writers_logged(ws: Workspace, tmp_path: Path) -> None:
    ws.settings.runs.required_fields = ["metrics", "artifacts"]
    run = ws.runs.start("the job process logs, the runner ends", code_dir=tmp_path)
    seen_elsewhere = ws.runs.get(run.id)  # e.g. a job's entrypoint, in its own process
    for _ in range(2):  # two batches with no counter of their own: same step, distinct points
        ws.runs.write_batch(seen_elsewhere, [("acc", 0, 0.9, time.time(), None)], [], {})
    (tmp_path / "model.bin").write_bytes(b"weights")
    ws.runs.log_artifact(seen_elsewhere, tmp_path / "model.bin")
    assert run.end() == RunStatus.FINISHED
    assert len(ws.runs.metric_history(run.id, "acc")) == 2


def test_timer_flushes_without_end(ws: Workspace, tmp_path: Path) -> None:
    ws.settings.runs.flush_interval_seconds = 0.05
    with ws.runs.start("timer", code_dir=tmp_path) as run:
        run.log_metric("loss", 0.3)
        run.log_params({"lr": 0.1})
        wait_for(
            lambda: ws.runs.get(run.id).params == {"lr": "0.1"} and len(ws.runs.metric_history(run.id, "loss")) == 1
        )


def child(project: Path, code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=project, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_sigkilled_run_is_marked_killed_and_keeps_flushed_points(ws: Workspace, project: Path) -> None:
    proc = child(
        project,
        (
            "import sys, time, leanops\n"
            "run = leanops.start_run(purpose='doomed')\n"
            "for i in range(500): run.log_metric('loss', 1 / (i + 1), step=i)\n"
            "run.flush()\n"
            "for i in range(500, 600): run.log_metric('loss', 0.0, step=i)\n"  # never flushed
            "print(run.id, flush=True)\n"
            "time.sleep(60)\n"
        ),
    )
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read()
    assert ws.runs.get(run_id).status == RunStatus.RUNNING  # its process is alive
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    record = ws.runs.get(run_id)
    assert record.status == RunStatus.KILLED and record.end_time is not None
    assert ws.runs.metric_history(run_id, "loss")["step"].tolist() == list(range(500))
    assert ws.runs.search(status="killed")["run_id"].tolist() == [run_id]


def test_exit_without_end_flushes_and_an_uncaught_error_marks_failed(ws: Workspace, project: Path) -> None:
    ok = child(
        project, "import leanops\nrun = leanops.start_run(purpose='exits')\nrun.log_metric('m', 1.0)\nprint(run.id)\n"
    )
    bad = child(
        project,
        "import leanops\nrun = leanops.start_run(purpose='raises')\nrun.log_metric('m', 2.0)\n"
        "print(run.id, flush=True)\nraise SystemExit(1) if False else ValueError('boom')\n",
    )
    ok_out, ok_err = ok.communicate(timeout=60)
    bad_out, _ = bad.communicate(timeout=60)
    assert ok.returncode == 0, ok_err
    ok_run, bad_run = ws.runs.get(ok_out.strip()), ws.runs.get(bad_out.strip())
    assert ok_run.status == RunStatus.INCOMPLETE and ok_run.metrics == {"m": 1.0}
    assert bad_run.status == RunStatus.FAILED and bad_run.metrics == {"m": 2.0}


def test_silent_run_on_another_host_is_marked_killed(ws: Workspace) -> None:
    from leanops.runs.models import RunRecord

    now = ws.clock.now()
    record = RunRecord(
        id="f" * 32,
        owner="alice",
        purpose="elsewhere",
        zone="sandbox",
        start_time=now,
        hostname="gpu-box-7",
        pid=1,
        heartbeat_at=now,
    )
    with ws._store.transaction() as unit:
        unit.runs.add(record)
    assert ws.runs.get(record.id).status == RunStatus.RUNNING  # another host: only its heartbeat counts
    ws.settings.runs.stale_after_seconds = 0.01
    time.sleep(0.05)
    assert ws.runs.get(record.id).status == RunStatus.KILLED
    assert audit(ws, action="run.read", resource=f"Run:{record.id}")[-1].decision == "allow"


# --- guardrails ------------------------------------------------------------------------------


def test_viewer_cannot_start_a_run_and_the_refusal_is_audited(ws: Workspace, as_user, tmp_path: Path) -> None:  # noqa: ANN001
    ws.users.add("vic", roles=[Role.VIEWER])
    with pytest.raises(PolicyDenied):
        as_user("vic").runs.start("sneaky", code_dir=tmp_path)
    denied = audit(ws, action="run.create", decision="deny")
    assert denied and denied[0].actor == "vic"


def test_developer_runs_in_sandbox_but_production_needs_complete_metadata(
    ws: Workspace, as_user, tmp_path: Path
) -> None:  # noqa: ANN001
    ws.users.add("bob", roles=[Role.DEVELOPER])
    with as_user("bob").runs.start("bob's run", code_dir=tmp_path) as run:
        run.log_metric("loss", 0.2)
    assert ws.runs.get(run.id).owner == "bob"
    with pytest.raises(PolicyDenied, match="production-needs-complete-metadata"):
        ws.runs.start(
            "prod without git", zone="production", code_dir=tmp_path, tags={"owner": "alice", "cost_center": "ml"}
        )


def test_sensitive_data_stays_out_of_the_sandbox(tracked: Workspace, project: Path, as_user) -> None:  # noqa: ANN001
    tracked.users.clear("alice", "sensitive", Zone.STAGING)
    staging = as_user("alice", zone="staging")
    (project / "pii.csv").write_text("name,ssn\nann,1\n")
    staging.datasets.register(project / "pii.csv", name="pii", data_class="sensitive")
    with pytest.raises(PolicyDenied, match="sandbox-no-sensitive-data"):
        tracked.runs.start("pii in sandbox", datasets=["pii", "customers"])
    with staging.runs.start(
        "pii in staging", datasets=["pii", "customers"], tags={"owner": "alice", "cost_center": "ml"}
    ) as run:
        pass
    record = tracked.runs.get(run.id)
    assert record.data_class == "sensitive" and record.zone == "staging"


# --- search and compare ----------------------------------------------------------------------


def test_search_filters_sorts_and_returns_a_frame(tracked: Workspace, tmp_path: Path) -> None:
    ids = {}
    for lr, auc, team in ((0.01, 0.70, "a"), (0.01, 0.85, "b"), (0.01, 0.95, "a"), (0.1, 0.99, "a")):
        with tracked.runs.start(
            f"lr {lr}", datasets=["customers"], params={"lr": lr}, tags={"team": team}, code_dir=tmp_path
        ) as run:
            run.log_metric("auc", auc)
            run.log_metric("loss", 1 - auc)
        ids[(lr, auc)] = run.id
    frame = tracked.runs.search(params={"lr": 0.01}, metrics=["auc>0.8"], sort="metrics.auc", descending=True)
    assert frame["run_id"].tolist() == [ids[(0.01, 0.95)], ids[(0.01, 0.85)]]
    assert frame["metrics.auc"].tolist() == [0.95, 0.85] and frame["params.lr"].tolist() == ["0.01", "0.01"]
    assert {"run_id", "status", "owner", "purpose", "start_time", "metrics.loss", "tags.team"} <= set(frame.columns)
    assert tracked.runs.search(params=["lr>=0.05"])["run_id"].tolist() == [ids[(0.1, 0.99)]]
    assert len(tracked.runs.search(tags=["team=a"], sort="params.lr")) == 3
    assert len(tracked.runs.search(dataset="customers")) == 4
    assert len(tracked.runs.search(dataset="customers@v1", owner="alice", status="incomplete")) == 4
    assert tracked.runs.search(dataset="other").empty
    assert len(tracked.runs.search(limit=2, sort="metrics.loss")) == 2
    with pytest.raises(ValidationError):
        tracked.runs.search(metrics=["auc>high"])
    with pytest.raises(ValidationError):
        tracked.runs.search(sort="colour")


def test_compare_puts_runs_side_by_side(ws: Workspace, tmp_path: Path) -> None:
    made = []
    for lr in (0.1, 0.2):
        with ws.runs.start("cmp", params={"lr": lr}, code_dir=tmp_path) as run:
            run.log_metric("auc", lr * 4)
        made.append(run.id)
    frame = ws.runs.compare(made)
    assert list(frame.columns) == made
    assert frame.loc["params.lr"].tolist() == ["0.1", "0.2"] and frame.loc["metrics.auc"].tolist() == [0.4, 0.8]
    with pytest.raises(NotFound):
        ws.runs.compare([made[0], "missing"])


def test_unknown_required_field_is_a_config_error(tmp_path: Path) -> None:
    from leanops.config import load_settings
    from leanops.errors import ConfigError

    (tmp_path / "leanops.yaml").write_text("runs:\n  required_fields: [owner, colour]\n  flush_size: 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert "runs.required_fields" in err.value.message and "colour" in err.value.message
    assert "runs.flush_size" in err.value.message


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # PostgreSQL's autovacuum keeps its own
def test_sqlite_planner_statistics_refresh_as_runs_grow(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leanops.adapters.sql.runs as sql_runs

    monkeypatch.setattr(sql_runs, "STATS_MIN_RUNS", 2)

    def analyzed() -> int:
        with ws._store.transaction() as unit:
            stat = unit.conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'sqlite_autoindex_runs_1'"
            ).scalar()
        return int(stat.split()[0])

    for _ in range(2):
        with ws.runs.start("grow", params={"lr": 0.1}, code_dir=tmp_path) as run:
            run.log_metric("auc", 0.5)
    ws.runs.search(params={"lr": 0.1}, metrics=["auc>0.1"], sort="metrics.auc")
    assert analyzed() == 2
    with ws.runs.start("one more", code_dir=tmp_path):
        pass
    ws.runs.search()
    assert analyzed() == 2  # not doubled yet: no new ANALYZE
