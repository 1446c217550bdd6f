"""Job semantics end to end on real processes: deadline, retries, teardown and metering are
proven on both executors (local and Ray) by the same tests; the rest runs locally."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from leanops.errors import BudgetExceeded, Conflict, NotFound, PolicyDenied, ValidationError
from leanops.jobs.models import JobRecord, JobStatus
from leanops.policy import Role
from leanops.workspace import Workspace

from .conftest import notices

Spec = Callable[..., Path]


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is dead too: it only waits for its parent to read its status.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def _scratch_clean(ws: Workspace, job: JobRecord) -> bool:
    return not ws.jobs.scratch.job_dir(job.id).exists()


# -- the same semantics on every executor --------------------------------------------------------


def test_success_is_tracked_metered_and_torn_down(jws: Workspace, spec: Spec, executor: str) -> None:
    path = spec(
        "burn",
        entrypoint="entrypoints:burn",
        params={"seconds": 0.3},
        resources={"cpu": 1, "memory": "512Mi", "gpu": 0},
        tags={"cost_center": "ml"},
    )
    job = jws.jobs.run(path, executor=executor)
    assert job.status is JobStatus.SUCCEEDED and job.executor == executor and job.attempts == 1
    attempt = job.attempt_records[0]
    assert attempt.status == "succeeded" and attempt.exit_code == 0
    assert attempt.metering.wall_seconds >= 0.3
    assert attempt.metering.cpu_seconds >= 0.25
    assert 30 * 2**20 < attempt.metering.peak_rss_bytes < 1024 * 2**20
    assert job.resources == {"cpu": 1.0, "memory": 512 * 2**20, "gpu": 0}
    stored = jws.jobs.get(job.id)
    assert stored.attempt_records[0].metering == attempt.metering and stored.status is JobStatus.SUCCEEDED
    run = jws.runs.get(job.run_id)
    assert run.metrics["held"] == 30 * 2**20 and run.params["seconds"] == "0.3"
    assert run.tags["leanops.job_id"] == job.id and run.tags["cost_center"] == "ml"
    assert _scratch_clean(jws, job)


def test_transient_failures_are_retried_with_each_cause_recorded(jws: Workspace, spec: Spec, executor: str) -> None:
    job = jws.jobs.run(spec("flaky", entrypoint="entrypoints:flaky", params={"fail_times": 2}), executor=executor)
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 3
    causes = [(a.status, a.exception) for a in jws.jobs.get(job.id).attempt_records]
    assert causes == [("transient", "ConnectionResetError"), ("transient", "ConnectionResetError"), ("succeeded", None)]
    assert "network blip on attempt 1" in job.attempt_records[0].cause
    assert job.metrics == {"attempt": 3.0}
    assert _scratch_clean(jws, job)


def test_deadline_stops_the_whole_process_group_and_alerts_the_owner(
    jws: Workspace, spec: Spec, executor: str, tmp_path: Path
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    path = spec("slow", entrypoint="entrypoints:spawner", deadline=2.5, params={"pidfile": str(pidfile)})
    started = time.monotonic()
    job = jws.jobs.run(path, executor=executor)
    assert time.monotonic() - started < 8
    assert job.status is JobStatus.TIMED_OUT and job.attempts == 1
    assert job.attempt_records[0].status == "timed_out"
    _wait_for(lambda: _dead(int(pidfile.read_text())))  # the grandchild went with the group
    lines = notices(jws.settings.root)
    assert any("[warning] Job slow is running long" in line and "owner=alice" in line for line in lines)
    assert any("[error] Job slow timed out" in line and "owner=alice" in line for line in lines)
    assert _scratch_clean(jws, job)
    assert jws.runs.get(job.run_id).status.value == "killed"


def test_failures_fail_fast_and_teardown_still_happens(jws: Workspace, spec: Spec, executor: str) -> None:
    job = jws.jobs.run(spec("bug", entrypoint="entrypoints:bug"), executor=executor)
    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert job.reason == "ValueError: a bug, not worth retrying"
    assert "a bug, not worth retrying" in jws.jobs.logs(job.id)  # the traceback was kept
    assert _scratch_clean(jws, job)


# -- retries -------------------------------------------------------------------------------------


def test_transient_exit_codes_exhaust_retries_and_alert(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(spec("tempfail", entrypoint="entrypoints:exit_with", params={"code": 75}))
    assert job.status is JobStatus.FAILED and job.attempts == 3
    assert [a.exit_code for a in job.attempt_records] == [75, 75, 75]
    assert "gave up after 3 attempt(s)" in job.reason
    assert any("Job tempfail gave up" in line for line in notices(jws.settings.root))


def test_retry_policy_decides_what_is_transient(jws: Workspace, spec: Spec) -> None:
    never = jws.jobs.run(
        spec("n", entrypoint="entrypoints:exit_with", params={"code": 75}, retry={"retry_on": "never"})
    )
    assert never.attempts == 1 and never.status is JobStatus.FAILED
    custom = jws.jobs.run(
        spec(
            "c",
            entrypoint="entrypoints:exit_with",
            params={"code": 3},
            retry={
                "max_attempts": 2,
                "transient_exit_codes": [3],
                "backoff": {"initial": 0.01, "max": 0.02, "jitter": 0},
            },
        )
    )
    assert custom.attempts == 2


def test_no_retry_starts_that_cannot_finish_before_the_deadline(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(
        spec(
            "late",
            entrypoint="entrypoints:exit_with",
            params={"code": 75},
            deadline=1,
            retry={"max_attempts": 5, "backoff": {"initial": 5, "max": 5, "jitter": 0}},
        )
    )
    assert job.status is JobStatus.FAILED and job.attempts == 1


# -- cancel, grace and checkpoints -----------------------------------------------------------------


def _running(ws: Workspace) -> str:
    ids: list[str] = []

    def seen() -> bool:
        ids[:] = [j.id for j in ws.jobs.list(status="running")]
        return bool(ids)

    _wait_for(seen)
    return ids[0]


def _in_thread(fn: Callable[[], JobRecord]) -> tuple[threading.Thread, list[JobRecord]]:
    out: list[JobRecord] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_cancel_stops_a_running_job_after_its_grace(jws: Workspace, spec: Spec) -> None:
    path = spec("long", entrypoint="entrypoints:checkpointing", params={"steps": 10_000, "step_seconds": 0.01})
    thread, out = _in_thread(lambda: jws.jobs.run(path))
    job_id = _running(jws)
    _wait_for(lambda: "resuming from step 0" in jws.jobs.logs(job_id))
    jws.jobs.cancel(job_id[:8])
    thread.join(10)
    job = out[0]
    assert job.status is JobStatus.CANCELLED and job.attempts == 1
    assert "saved checkpoint at step" in jws.jobs.logs(job.id)  # the grace period let it save
    assert _scratch_clean(jws, job)
    with pytest.raises(Conflict, match="already ended"):
        jws.jobs.cancel(job.id)


def test_cancel_from_another_process_is_seen_by_the_runner(jws: Workspace, spec: Spec) -> None:
    path = spec("long2", entrypoint="entrypoints:sleep")
    thread, out = _in_thread(lambda: jws.jobs.run(path))
    job_id = _running(jws)
    other = Workspace(jws.settings, store=jws._store, artifacts=jws.artifacts, policy=jws.policy_engine)
    other.jobs.cancel(job_id)  # no shared in-process event: the runner polls the store
    thread.join(10)
    assert out[0].status is JobStatus.CANCELLED


def test_sigkill_follows_an_ignored_sigterm(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(spec("stubborn", entrypoint="entrypoints:stubborn", deadline=1.5))
    assert job.status is JobStatus.TIMED_OUT
    assert job.attempt_records[0].signal == 9


def test_a_retried_attempt_resumes_from_the_jobs_checkpoint(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(
        spec(
            "resume", entrypoint="entrypoints:checkpointing", params={"steps": 20, "step_seconds": 0.001, "fail_at": 7}
        )
    )
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 2
    assert job.metrics["resumed_from"] == 7
    assert not jws.jobs.scratch.checkpoint(job.id).exists()  # removed when the job ended


def test_deadline_grace_lets_a_job_save_a_checkpoint(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(
        spec(
            "grace", entrypoint="entrypoints:checkpointing", deadline=1, params={"steps": 10_000, "step_seconds": 0.01}
        )
    )
    assert job.status is JobStatus.TIMED_OUT
    assert "saved checkpoint at step" in jws.jobs.logs(job.id)


def test_a_crashed_runners_leftovers_are_removed_on_the_next_start(jws: Workspace, spec: Spec) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env={"LEANOPS_JOB_ID": "deadbeef", "PATH": os.environ["PATH"]}
    )
    folder = jws.jobs.scratch.root / "deadbeef"
    (folder / "attempt-1").mkdir(parents=True)
    (folder / "runner.json").write_text(f'{{"job_id": "deadbeef", "host": "{os.uname().nodename}", "pid": {gone.pid}}}')
    (folder / "attempt-1" / "attempt.json").write_text(f'{{"pgid": {orphan.pid}}}')
    (folder / "attempt-1" / "big.bin").write_bytes(b"x" * 4096)
    report = jws.jobs.gc()
    assert any(i.kind == "scratch" and i.what == str(folder) and i.bytes >= 4096 for i in report.items)
    assert folder.exists()  # a dry run removes nothing
    jws.jobs.run(spec("next"))
    assert not folder.exists()
    orphan.wait(5)
    assert orphan.returncode == -9


def test_a_job_whose_runner_died_is_marked_lost(jws: Workspace, spec: Spec) -> None:
    running, queued = jws.jobs.plan(spec("ghost")), jws.jobs.plan(spec("ghost2"))
    assert queued.job.runner_pid == os.getpid()  # the planner runs it: a queued job has a runner too
    gone = subprocess.Popen(["true"])
    gone.wait()
    with jws._store.transaction() as unit:
        unit.jobs.update(running.job.id, status="running", runner_pid=gone.pid)
        unit.jobs.update(queued.job.id, runner_pid=gone.pid)
    assert jws.jobs.reap() == sorted([running.job.id, queued.job.id])
    assert jws.jobs.get(running.job.id).status is JobStatus.LOST
    assert jws.jobs.get(queued.job.id).status is JobStatus.LOST


# -- checks before anything runs -----------------------------------------------------------------


def test_deadline_beyond_the_zone_quota_is_refused(jws: Workspace, spec: Spec) -> None:
    with pytest.raises(BudgetExceeded, match="deadline 3h exceeds the sandbox quota of 2h"):
        jws.jobs.run(spec("huge", deadline="3h"))
    assert jws.jobs.list() == []


def test_concurrency_quota(jws: Workspace, spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    jws.settings.jobs.quotas[jws.zone].max_concurrent_jobs = 1
    thread, out = _in_thread(lambda: jws.jobs.run(spec("first", entrypoint="entrypoints:sleep", params={"seconds": 2})))
    _running(jws)
    with pytest.raises(BudgetExceeded, match="quota of concurrent jobs"):
        jws.jobs.run(spec("second"))
    thread.join(10)
    assert out[0].status is JobStatus.SUCCEEDED


def test_unknown_entrypoint_and_dataset_are_refused(jws: Workspace, spec: Spec) -> None:
    with pytest.raises(ValidationError, match="defines no 'nope'"):
        jws.jobs.run(spec("e1", entrypoint="entrypoints:nope"))
    with pytest.raises(NotFound):
        jws.jobs.run(spec("e2", datasets=["no-such-data@v1"]))
    assert jws.jobs.list() == []


def test_a_viewer_may_not_run_jobs_and_the_refusal_is_audited(jws: Workspace, spec: Spec) -> None:
    jws.users.add("vic", roles=[Role.VIEWER])
    vic = Workspace(
        jws.settings,
        store=jws._store,
        artifacts=jws.artifacts,
        policy=jws.policy_engine,
        token=jws.users.create_token("vic").plaintext,
    )
    with pytest.raises(PolicyDenied):
        vic.jobs.run(spec("v"))
    denied = [r for r in jws.audit.tail(5) if r.action == "job.run" and r.decision == "deny"]
    assert denied and denied[-1].actor == "vic"


def test_secrets_reach_the_job_only(jws: Workspace, spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "sk-live-0123456789")
    job = jws.jobs.run(spec("leak", entrypoint="entrypoints:leak", secrets=["API_KEY"], retry={"max_attempts": 1}))
    assert job.status is JobStatus.FAILED
    log = jws.jobs.logs(job.id)
    assert "the key is ***" in log and "sk-live" not in log
    assert "sk-live" not in job.reason and "refused with key ***" in job.reason
    run = jws.runs.get(job.run_id)
    assert "sk-live" not in repr(run.model_dump())
    with jws._store.transaction() as unit:
        audit = [r.model_dump_json() for r in unit.audit.scan()]
    assert not any("sk-live" in r for r in audit)
    assert any('"injects":["API_KEY"]' in r.replace(" ", "") for r in audit)  # the name, never the value
    missing = spec("nokey", secrets=["NOT_SET_ANYWHERE"])
    with pytest.raises(ValidationError, match="NOT_SET_ANYWHERE not found"):
        jws.jobs.run(missing)


def test_metrics_logged_inside_the_job_land_in_its_run(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(spec("tracked", entrypoint="entrypoints:tracked", params={"steps": 4}))
    assert job.status is JobStatus.SUCCEEDED, jws.jobs.logs(job.id)
    history = jws.runs.metric_history(job.run_id, "loss")
    assert list(history["step"]) == [0, 1, 2, 3] and jws.runs.get(job.run_id).metrics["final"] == 0.25


def test_same_spec_commit_data_and_seed_reproduce_the_same_metrics(jws: Workspace, spec: Spec) -> None:
    data = jws.settings.root / "toy.csv"
    data.write_text("x\n" + "\n".join(str(i) for i in range(50)) + "\n")
    jws.datasets.register(data, name="toy")
    path = spec("repro", entrypoint="entrypoints:deterministic", seed=11, datasets=["toy@v1"], params={"lr": 0.1})
    a, b = jws.jobs.run(path), jws.jobs.run(path)
    other = jws.jobs.run(spec("repro2", entrypoint="entrypoints:deterministic", seed=12))
    assert a.status is JobStatus.SUCCEEDED, jws.jobs.logs(a.id)
    assert a.metrics == b.metrics and a.metrics["hash_seed"] == 11
    assert other.metrics["loss"] != a.metrics["loss"]
    assert a.datasets == ["toy@v1"]
    assert jws.runs.get(a.run_id).params["seed"] == "11"


# -- code → training handoff ----------------------------------------------------------------------


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=root,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
        },
    )


def test_release_zones_refuse_a_dirty_tree_unless_allowed(jws: Workspace, spec: Spec) -> None:
    root = jws.settings.root
    path = spec("release", zone="staging", tags={"cost_center": "ml"})
    _git(root, "init", "-q")
    _git(root, "add", "entrypoints.py", "leanops.yaml")
    _git(root, "commit", "-qm", "code")
    with pytest.raises(Conflict, match="jobs/release.yaml is not committed"):
        jws.jobs.run(path)
    _git(root, "add", "jobs")
    _git(root, "commit", "-qm", "spec")
    clean = jws.jobs.run(path)
    assert clean.promotable and clean.spec_commit and clean.code_commit == clean.spec_commit
    assert clean.status is JobStatus.SUCCEEDED
    (root / "entrypoints.py").write_text((root / "entrypoints.py").read_text() + "\n# tweak\n")
    with pytest.raises(Conflict, match="dirty working tree: uncommitted changes to entrypoints.py"):
        jws.jobs.run(path)
    dirty = jws.jobs.run(path, allow_dirty=True)
    assert dirty.status is JobStatus.SUCCEEDED and not dirty.promotable and dirty.code_dirty
    assert jws.runs.get(dirty.run_id).tags["leanops.promotable"] == "false"
    assert jws.jobs.run(spec("sandboxed")).status is JobStatus.SUCCEEDED  # the sandbox is for trying things


# -- reading, logs, gc -----------------------------------------------------------------------------


def test_logs_are_live_while_running_then_kept_until_their_ttl(jws: Workspace, spec: Spec) -> None:
    path = spec("ttl", entrypoint="entrypoints:sleep", params={"seconds": 1.0}, scratch_ttl=1)
    thread, out = _in_thread(lambda: jws.jobs.run(path))
    job_id = _running(jws)
    _wait_for(lambda: "sleeping" in jws.jobs.logs(job_id))
    thread.join(10)
    job = out[0]
    assert jws.jobs.logs(job.id) == "sleeping\n"
    time.sleep(1.1)
    dry = jws.jobs.gc()
    assert not dry.applied and dry.bytes >= len("sleeping\n") and dry.expired_refs == 1
    assert jws.jobs.logs(job.id) == "sleeping\n"  # a dry run deletes nothing
    done = jws.jobs.gc(apply=True)
    assert done.bytes == dry.bytes
    with pytest.raises(NotFound, match="expired"):
        jws.jobs.logs(job.id)
    assert jws.jobs.gc().bytes == 0
    assert jws.fsck().ok


def test_outputs_are_kept_as_scratch_artifacts_with_a_ttl(jws: Workspace, spec: Spec) -> None:
    job = jws.jobs.run(spec("out", entrypoint="entrypoints:writes_output", scratch_ttl="2h"))
    refs = {r.name: r for r in jws.jobs.artifacts_of(job.id)}
    assert set(refs) == {"attempt-1/outputs/plots/loss.txt"}  # an empty log is not kept
    ref = refs["attempt-1/outputs/plots/loss.txt"]
    assert jws.artifacts.get_bytes(ref.digest) == b"0.5 0.25\n"
    assert ref.expires_at is not None and (ref.expires_at - ref.created_at).total_seconds() == 7200


def test_list_filters_and_prefix_lookup(jws: Workspace, spec: Spec) -> None:
    a = jws.jobs.run(spec("a"))
    b = jws.jobs.run(spec("b", entrypoint="entrypoints:bug"))
    assert [j.id for j in jws.jobs.list()] == [b.id, a.id]
    assert [j.id for j in jws.jobs.list(status="failed")] == [b.id]
    assert [j.id for j in jws.jobs.list(name="a")] == [a.id]
    assert jws.jobs.get(a.id[:10]).id == a.id
    with pytest.raises(ValidationError, match="Unknown status"):
        jws.jobs.list(status="exploded")
    with pytest.raises(NotFound):
        jws.jobs.get("ffffffffffff")


# -- sweeps -----------------------------------------------------------------------------------


def test_a_grid_sweep_runs_every_trial_as_a_tracked_job(jws: Workspace, spec: Spec) -> None:
    from leanops.jobs.sweep import grid

    path = spec("sweep", params={"x": 1.0})
    seen = []
    result = jws.jobs.sweep(path, grid(["x=0.5,3,2,1"]), parallel=2, metric="score", on_trial=seen.append)
    assert result.counts == {"succeeded": 4} and len(seen) == 4
    assert [t.metrics["score"] for t in result.best(2)] == [6.0, 4.0]
    assert len(jws.jobs.list(sweep_id=result.sweep_id)) == 4
    assert all(float(jws.runs.get(t.run_id).params["x"]) == float(t.params["x"]) for t in result.trials)
    low = jws.jobs.sweep(path, [{"x": "2"}, {"x": "0.1"}], metric="score", maximize=False)
    assert low.best(1)[0].params == {"x": "0.1"}


def test_sweep_quota_and_bad_trials_are_refused_before_anything_runs(jws: Workspace, spec: Spec) -> None:
    path = spec("sweep2", params={"x": 1.0})
    with pytest.raises(BudgetExceeded, match="21 trials exceed the sandbox quota of 20"):
        jws.jobs.sweep(path, [{"x": str(i)} for i in range(21)])
    with pytest.raises(ValidationError, match="no param 'y'"):
        jws.jobs.sweep(path, [{"x": "1"}, {"y": "2"}])
    assert jws.jobs.list() == []


# -- both metadata backends --------------------------------------------------------------------


def test_job_records_on_each_backend(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import FIXTURES

    root = ws.settings.root
    (root / "entrypoints.py").write_text((FIXTURES / "entrypoints.py").read_text())
    (root / "job.yaml").write_text(
        "name: j\nentrypoint: entrypoints:ok\nowner: alice\ndeadline: 20\nparams: {x: 2.0}\n"
    )
    ws.settings.notify.sinks = ["file:notices.log"]
    job = ws.jobs.run(root / "job.yaml", {"x": "4"})
    stored = ws.jobs.get(job.id)
    assert stored.status is JobStatus.SUCCEEDED and stored.metrics == {"score": 8.0} and stored.params == {"x": 4.0}
    assert stored.attempt_records[0].metering.wall_seconds > 0 and stored.created_at.tzinfo is not None
    assert [j.id for j in ws.jobs.list(owner="alice")] == [job.id]
