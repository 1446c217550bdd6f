# ruff: noqa: E402  (the repo root goes on sys.path before leanops is imported)
"""Job overhead on the local executor: submit → start latency, and the whole job against
running the same entrypoint directly with `subprocess.run`.

    python benchmarks/bench_jobs.py [--runs 30]

The project is a fresh git repository with a committed spec and a trivial entrypoint that
returns the time it started. A leanops job pays for every guardrail it carries: spec checks,
the git provenance, the policy decisions and audit records, the tracked run, a scratch
folder, the process group, the attempt records and the log kept as a scratch artifact. The
baseline is `python -c "import entry; entry.main()"` in the same folder. The two alternate,
so a noisy machine affects both alike. Results go to benchmarks/results/jobs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from leanops.jobs.models import JobRecord
from leanops.project import write_project
from leanops.workspace import Workspace

ENTRY = "import time\n\n\ndef main() -> dict[str, float]:\n    return {'started': time.time()}\n"
SPEC = "name: bench\nentrypoint: entry:main\nowner: bench\ndeadline: 1m\n"
GOAL_MS = 200.0


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def make_project(folder: Path) -> Path:
    write_project(folder, project="bench", owner="bench")
    (folder / "entry.py").write_text(ENTRY)
    (folder / "jobs").mkdir()
    (folder / "jobs" / "bench.yaml").write_text(SPEC)
    (folder / ".gitignore").write_text(".leanops/\n")
    _git(folder, "init", "-q")
    _git(folder, "add", ".")
    _git(folder, "commit", "-qm", "bench")
    return folder / "jobs" / "bench.yaml"


def direct(root: Path) -> tuple[float, float]:
    """(total seconds, seconds until the entrypoint started) of running it with subprocess.run."""
    code = "import entry; out = entry.main(); import json; print(json.dumps(out))"
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True)
    total = time.time() - t0
    return total, json.loads(out.stdout)["started"] - t0


def leanops_job(ws: Workspace, spec: Path, marks: dict[str, float]) -> tuple[float, float, JobRecord]:
    marks.clear()
    t0 = time.time()
    job = ws.jobs.run(spec)
    total = time.time() - t0
    assert job.status == "succeeded", job.reason
    marks["submit"] = t0
    return total, job.metrics["started"] - t0, job


def summary(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "min_ms": round(ms[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "jobs.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leanops-bench-jobs-") as tmp:
        root = Path(tmp) / "proj"
        spec = make_project(root)
        for key in [k for k in os.environ if k.startswith("LEANOPS_")]:
            del os.environ[key]
        os.environ["LEANOPS_NOTIFY__SINKS"] = "[]"
        os.chdir(root)
        ws = Workspace.from_config(root)
        ws.bootstrap()
        marks: dict[str, float] = {}
        phases: dict[str, list[float]] = {
            "checks_and_record": [],
            "tracked_run": [],
            "launch_to_start": [],
            "after_exit": [],
        }

        def on_event(job: JobRecord, kind: str, data: dict[str, Any]) -> None:
            marks[kind] = time.time()

        ws.jobs.on_event = on_event
        for _ in range(3):  # warm caches on both sides
            direct(root)
            leanops_job(ws, spec, marks)
        rows: dict[str, list[float]] = {"direct_total": [], "direct_start": [], "job_total": [], "job_start": []}
        for _ in range(args.runs):
            total, start = direct(root)
            rows["direct_total"].append(total)
            rows["direct_start"].append(start)
            total, start, job = leanops_job(ws, spec, marks)
            rows["job_total"].append(total)
            rows["job_start"].append(start)
            attempt = job.attempt_records[0]
            phases["checks_and_record"].append(marks["start"] - marks["submit"] - 0)  # incl. the tracked run
            phases["launch_to_start"].append(attempt.start_latency_seconds or 0.0)
            phases["after_exit"].append(marks["submit"] + total - marks["attempt_end"])
        ws.close()
    stats = {k: summary(v) for k, v in rows.items()}
    stats["phases"] = {k: summary(v) for k, v in phases.items() if v}
    job_start, direct_start = stats["job_start"]["median_ms"], stats["direct_start"]["median_ms"]
    job_total, direct_total = stats["job_total"]["median_ms"], stats["direct_total"]["median_ms"]
    result = {
        "benchmark": "jobs",
        "runs": args.runs,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "results": stats,
        "submit_to_start_median_ms": job_start,
        "submit_to_start_goal_ms": GOAL_MS,
        "submit_to_start_meets_goal": job_start < GOAL_MS,
        "start_ratio_vs_direct": round(job_start / direct_start, 2),
        "total_ratio_vs_direct": round(job_total / direct_total, 2),
        "overhead_ms_vs_direct": round(job_total - direct_total, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"submit → start   median {job_start:7.1f} ms  (direct {direct_start:.1f} ms, x{result['start_ratio_vs_direct']}),"
        f" goal < {GOAL_MS:.0f} ms: {'met' if result['submit_to_start_meets_goal'] else 'MISSED'}"
    )
    print(
        f"whole job        median {job_total:7.1f} ms  (direct {direct_total:.1f} ms, x{result['total_ratio_vs_direct']},"
        f" +{result['overhead_ms_vs_direct']} ms)"
    )
    for name, s in stats["phases"].items():
        print(f"  {name:<18} median {s['median_ms']:7.1f} ms")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
