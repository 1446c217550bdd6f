"""Concurrent writers, in real processes, on both backends: every one gets the next number."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import pytest

from leanops.workspace import Workspace


def _open(root: str, url: str, token: str | None) -> Workspace:
    from leanops.config import load_settings

    settings = load_settings(Path(root))
    settings.store.url = url
    return Workspace(settings, token=token)


def _register_data(root: str, url: str, token: str | None, i: int, out: multiprocessing.Queue) -> None:
    try:
        with _open(root, url, token) as ws:
            path = Path(root) / f"part{i}.csv"
            path.write_text(f"id,value\n{i},{i * 10}\n")
            out.put(("ok", ws.datasets.register(path, name="events").version))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _plan_job(root: str, url: str, token: str | None, i: int, out: multiprocessing.Queue) -> None:
    try:
        with _open(root, url, token) as ws:
            out.put(("ok", ws.jobs.plan(Path(root) / "jobs" / "hold.yaml").job.id))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put((type(exc).__name__, str(exc)))


def _run_all(target, ws: Workspace, n: int) -> list:  # noqa: ANN001
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    args = (str(ws.settings.root), ws.settings.store_url, ws._token)
    procs = [ctx.Process(target=target, args=(*args, i, out)) for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    return results


@pytest.mark.slow
def test_parallel_dataset_registrations_each_get_the_next_version(ws: Workspace) -> None:
    results = _run_all(_register_data, ws, 6)
    assert [r for r in results if r[0] == "error"] == []
    assert sorted(v for _, v in results) == [1, 2, 3, 4, 5, 6]
    assert ws.audit.verify().ok


def _hold_spec(root: Path) -> None:
    """A sandbox job reserving 0.105 (1h of 2 CPUs and 1 GiB) that is only ever planned."""
    import yaml

    spec = {
        "name": "hold",
        "entrypoint": [sys.executable, "-c", "pass"],
        "owner": "alice",
        "deadline": "1h",
        "resources": {"cpu": 2, "memory": "1Gi"},
    }
    (root / "jobs").mkdir(exist_ok=True)
    (root / "jobs" / "hold.yaml").write_text(yaml.safe_dump(spec))


@pytest.mark.slow
def test_parallel_submitters_never_exceed_the_concurrency_quota(ws: Workspace, monkeypatch) -> None:  # noqa: ANN001
    _hold_spec(ws.settings.root)
    monkeypatch.setenv("LEANOPS_JOBS__QUOTAS__SANDBOX__MAX_CONCURRENT_JOBS", "2")
    results = _run_all(_plan_job, ws, 6)
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["BudgetExceeded"] * 4 + ["ok"] * 2, results
    assert len(ws.jobs.list()) == 2


@pytest.mark.slow
def test_parallel_submitters_never_overspend_a_hard_ceiling(ws: Workspace) -> None:
    _hold_spec(ws.settings.root)
    ws.cost.set_budget("sandbox", "0.25", owner="alice")  # room for two reservations of 0.105
    results = _run_all(_plan_job, ws, 6)
    assert sorted(kind for kind, _ in results) == ["BudgetExceeded"] * 4 + ["ok"] * 2, results
    assert all("hard ceiling" in msg or "only" in msg for kind, msg in results if kind != "ok")
    assert len(ws.jobs.list()) == 2


def test_a_killed_writers_temp_file_is_reported_by_fsck_and_gc(ws: Workspace) -> None:
    tmp = Path(ws.settings.artifacts_url) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "deadbeef.part").write_bytes(b"x" * 100)
    report = ws.fsck()
    assert report.ok and any("deadbeef.part (100 bytes)" in item for item in report.leftovers)
    assert any(i.kind == "temp" and i.what.endswith("deadbeef.part") for i in ws.jobs.gc().items)


def _expired_blob(ws: Workspace, data: bytes, job_id: str) -> str:
    """A blob whose only reference (a job's scratch log) expired an hour ago, written a day ago."""
    import os
    import time
    from datetime import timedelta

    from leanops.artifacts import ArtifactRef

    digest = ws.artifacts.put_bytes(data)
    now = ws.clock.now()
    ref = ArtifactRef(
        digest=digest,
        owner_kind="job",
        owner_id=job_id,
        name="attempt-1/log",
        size=len(data),
        zone="sandbox",
        created_at=now - timedelta(days=1),
        created_by="alice",
        expires_at=now - timedelta(hours=1),
    )
    with ws._store.transaction() as unit:
        unit.refs.add(ref)
    blob = Path(ws.settings.artifacts_url) / "sha256" / digest[:2] / digest[2:]
    day_ago = time.time() - 86400
    os.utime(blob, (day_ago, day_ago))
    return digest


def test_gc_keeps_a_blob_a_concurrent_writer_just_reused(ws: Workspace) -> None:
    ws.settings.jobs.gc_grace = 3600
    stale, reused = _expired_blob(ws, b"stale log", "a" * 32), _expired_blob(ws, b"reused log", "b" * 32)
    ws.artifacts.put_bytes(b"reused log")  # a registration about to commit its reference
    report = ws.jobs.gc()
    assert [i.what for i in report.items if i.kind == "artifact"] == ["job:aaaaaaaaaaaa/attempt-1/log"]
    ws.jobs.gc(apply=True)
    assert not ws.artifacts.exists(stale)
    assert ws.artifacts.exists(reused)
