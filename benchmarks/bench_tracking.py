# ruff: noqa: E402  (the repo root goes on sys.path before leanops is imported)
"""Experiment tracking: leanops against MLflow (its SQLite backend), side by side.

    python benchmarks/bench_tracking.py [--points 100000] [--runs 50000] [--reps 20] [--skip-mlflow]

P1  log 100,000 metric points from one process through per-call `run.log_metric`, timed from
    the first call to after the run is closed (every point flushed and committed).
P2  search 50,000 runs filtered by one param and one metric, sorted by a metric, as a
    DataFrame: median over `--reps` repetitions. The runs are seeded by bulk insert (timed
    and reported, not part of the search figure).

MLflow runs in its own virtualenv (benchmarks/.venv-mlflow, made here if missing) through
benchmarks/peers/mlflow_tracking.py, which prints its figures as JSON. Results go to
benchmarks/results/tracking.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select

from leanops.adapters.sql import tables as t
from leanops.project import write_project
from leanops.workspace import Workspace

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]  # each on a tenth of the runs
QUERY = {"params": {"lr": 0.01}, "metrics": ["auc>0.8"], "sort": "metrics.auc", "descending": True}


def open_project(folder: Path) -> Workspace:
    write_project(folder, project="bench", owner="alice")
    ws = Workspace.from_config(folder)
    ws.bootstrap()
    return ws


def p1_per_call(ws: Workspace, points: int) -> dict[str, Any]:
    """Per-call logging until the run is closed and every point is committed."""
    ws.settings.runs.required_fields = ["metrics"]
    run = ws.runs.start("p1 per-call logging", code_dir=Path(tempfile.gettempdir()))
    values = [random.random() for _ in range(1000)]
    log = run.log_metric
    start = time.perf_counter()
    for i in range(points):
        log("loss", values[i % 1000], i)
    logged = time.perf_counter()
    run.end()
    done = time.perf_counter()
    with ws.store.transaction() as unit:
        stored = unit.conn.execute(
            select(func.count()).select_from(t.run_metrics).where(t.run_metrics.c.run_id == run.id)
        ).scalar()
    assert stored == points, f"{stored} of {points} points stored"
    return {
        "points": points,
        "seconds": round(done - start, 4),
        "points_per_second": round(points / (done - start)),
        "logging_loop_seconds": round(logged - start, 4),
        "per_call_microseconds": round((logged - start) / points * 1e6, 3),
        "close_seconds": round(done - logged, 4),
        "flush_size": ws.settings.runs.flush_size,
    }


def seed_runs(ws: Workspace, n: int) -> float:
    """n finished runs with 3 params, 2 latest metrics and a tag, by bulk insert (one transaction)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    runs, params, latest, tags = [], [], [], []
    for i in range(n):
        rid = uuid.uuid4().hex
        start = now - timedelta(minutes=n - i)
        runs.append(
            {
                "id": rid,
                "owner": "alice",
                "purpose": f"sweep {i}",
                "status": "finished",
                "approval": "unreviewed",
                "zone": "sandbox",
                "start_time": start,
                "end_time": start + timedelta(seconds=30),
                "code_commit": "0" * 40,
                "code_dirty": False,
                "code_remote": "https://git.example.com/x.git",
                "features": ["a", "b"],
                "environment": {},
                "data_class": "internal",
                "missing": [],
                "pid": None,
                "hostname": None,
                "heartbeat_at": None,
            }
        )
        lr = LRS[i % len(LRS)]
        for key, value, num in (
            ("lr", str(lr), lr),
            ("depth", str(i % 7 + 2), float(i % 7 + 2)),
            ("optimizer", ("adam", "sgd", "rmsprop")[i % 3], None),
        ):
            params.append({"run_id": rid, "key": key, "value": value, "value_key": value, "value_num": num})
        for key, value in (("auc", rng.random()), ("loss", rng.random())):
            latest.append(
                {"run_id": rid, "key": key, "value": value, "step": 99, "ts": start.timestamp(), "flag": None}
            )
        tags.append({"run_id": rid, "key": "team", "value": ("a", "b")[i % 2]})
    began = time.perf_counter()
    with ws.store.transaction() as unit:
        for table, rows in ((t.runs, runs), (t.run_params, params), (t.run_latest_metrics, latest), (t.run_tags, tags)):
            unit.conn.execute(insert(table), rows)
    return time.perf_counter() - began


def p2_search(folder: Path, n: int, reps: int) -> dict[str, Any]:
    with open_project(folder) as seeding_ws:
        seeding = seed_runs(seeding_ws, n)
    # Search from a fresh open, as a user would: closing the seeding connection checkpoints the
    # 50,000 runs out of SQLite's write-ahead log, where a long-lived project keeps them too.
    with Workspace.from_config(folder) as ws:
        return _p2_timings(ws, n, reps, seeding)


def _p2_timings(ws: Workspace, n: int, reps: int, seeding: float) -> dict[str, Any]:
    frame = ws.runs.search(**QUERY)  # warm caches and check the answer once
    expected = frame["metrics.auc"].tolist()
    assert expected == sorted(expected, reverse=True) and set(frame["params.lr"]) == {"0.01"}
    assert (frame["metrics.auc"] > 0.8).all()
    timings = []
    for _ in range(reps):
        began = time.perf_counter()
        ws.runs.search(**QUERY)
        timings.append(time.perf_counter() - began)
    flt = ws.runs.filter(**QUERY)
    sql_only = []
    for _ in range(reps):
        began = time.perf_counter()
        with ws.store.transaction() as unit:
            unit.runs.search(flt)
        sql_only.append(time.perf_counter() - began)
    return {
        "runs": n,
        "seed_seconds": round(seeding, 2),
        "seed_method": "bulk INSERT through SQLAlchemy Core, one transaction",
        "query": "params.lr = 0.01 AND metrics.auc > 0.8 ORDER BY metrics.auc DESC LIMIT 1000, as a DataFrame",
        "matched": len(frame),
        "median_ms": round(statistics.median(timings) * 1000, 2),
        "p90_ms": round(sorted(timings)[int(0.9 * (len(timings) - 1))] * 1000, 2),
        "min_ms": round(min(timings) * 1000, 2),
        "sql_only_median_ms": round(statistics.median(sql_only) * 1000, 2),
        "repetitions": reps,
    }


def ensure_mlflow_venv() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        print("creating benchmarks/.venv-mlflow and installing mlflow (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "mlflow"], check=True)
    return python


def run_mlflow(points: int, runs: int, reps: int) -> dict[str, Any]:
    python = ensure_mlflow_venv()
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        done = subprocess.run(
            [
                str(python),
                str(HERE / "peers" / "mlflow_tracking.py"),
                "--dir",
                tmp,
                "--points",
                str(points),
                "--runs",
                str(runs),
                "--reps",
                str(reps),
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false"},
        )
    if done.returncode != 0:
        raise SystemExit(f"the MLflow peer failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def loop_seconds() -> float:
    """A million trivial loop iterations: how fast this machine runs Python right now, so
    figures from a loaded or slow machine can be read in context."""
    began = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - began


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 1) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--only", choices=["p1", "p2"], help="Run one part (leanops only)")
    args = parser.parse_args()

    calibration = loop_seconds()
    if args.only:
        with tempfile.TemporaryDirectory(prefix="bench-leanops-") as tmp:
            if args.only == "p1":
                with open_project(Path(tmp) / "p1") as ws:
                    print(json.dumps(p1_per_call(ws, args.points), indent=2))
            else:
                print(json.dumps(p2_search(Path(tmp) / "p2", args.runs, args.reps), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="bench-leanops-") as tmp:
        with open_project(Path(tmp) / "p1") as ws:
            p1 = p1_per_call(ws, args.points)
        p2 = p2_search(Path(tmp) / "p2", args.runs, args.reps)
    leanops = {"p1_per_call": p1, "p2_search": p2}
    mlflow = None if args.skip_mlflow else run_mlflow(args.points, args.runs, args.reps)

    result: dict[str, Any] = {
        "benchmark": "tracking",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python_loop_1m_seconds": round(calibration, 3),
        },
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": {"p1_seconds": 1.0, "p2_median_ms": 50.0},
        "leanops": leanops,
        "mlflow": mlflow,
    }
    if mlflow:
        result["ratios"] = {
            "p1_per_call_vs_mlflow_per_call": ratio(
                p1["points_per_second"], mlflow["log_metric_per_call"]["points_per_second"]
            ),
            "p1_per_call_vs_mlflow_log_batch": ratio(p1["points_per_second"], mlflow["log_batch"]["points_per_second"]),
            "p2_mlflow_median_over_leanops_median": ratio(mlflow["search"]["median_ms"], p2["median_ms"]),
        }
    out = HERE / "results" / "tracking.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"\nP1 {p1['points']:,} points per call: {p1['seconds']:.3f} s ({p1['per_call_microseconds']} µs/call)"
        f" — target < 1 s: {'met' if p1['seconds'] < 1 else 'MISSED'}"
    )
    print(
        f"P2 search {p2['runs']:,} runs: median {p2['median_ms']} ms — target < 50 ms: "
        f"{'met' if p2['median_ms'] < 50 else 'MISSED'}"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
