"""Concurrent writers, in real processes, on both backends: every one gets the next number."""

from __future__ import annotations

import multiprocessing
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


def test_a_killed_writers_temp_file_is_reported_by_fsck_and_gc(ws: Workspace) -> None:
    tmp = Path(ws.settings.artifacts_url) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "deadbeef.part").write_bytes(b"x" * 100)
    report = ws.fsck()
    assert report.ok and any("deadbeef.part (100 bytes)" in item for item in report.leftovers)
    assert any(i.kind == "temp" and i.what.endswith("deadbeef.part") for i in ws.jobs.gc().items)
