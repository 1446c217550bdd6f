# ruff: noqa: E402  (the repo root goes on sys.path before leanops is imported)
"""Online serving: `leanops serve` against `mlflow models serve` and the raw `predict` floor.

    python benchmarks/bench_serving.py [--requests 2000] [--seconds 10] [--skip-mlflow]

The same scikit-learn model (LogisticRegression on scikit-learn's bundled breast-cancer
data, 30 features) answers single-record requests:

S1  one client, sequential requests: end-to-end p50/p99 and requests per second;
S2  8 concurrent clients (processes, one keep-alive connection each) for `--seconds`:
    p50/p99 and requests per second.

Both servers get the same client (httpx, one connection per client) and the same record;
each runs one uvicorn worker. leanops' server-side p50 comes from its own latency histogram
(/metrics), next to the raw in-process `model.predict` on one record (as a DataFrame, and
as a NumPy row). The leanops side goes
the whole release path first (dataset, tracked run, registered version, committed rules,
evidence, approval, promotion), since a server loads only an approved version. Results go to
benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from leanops.policy import Role
from leanops.project import write_project
from leanops.workspace import Workspace

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
RULES = """\
owner: bench
evaluation:
  dataset: holdout@v1
  target: label
thresholds: ["accuracy >= 0.8"]
test_command: {python} -c "pass"
first_release: true
monitoring:
  drift_threshold: 0.2
"""


def data() -> tuple[pd.DataFrame, pd.Series]:
    bunch = load_breast_cancer(as_frame=True)
    x = bunch.data.rename(columns=lambda c: c.replace(" ", "_"))
    return x, bunch.target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=b@example.com", "-c", "user.name=b", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def release(folder: Path, x: pd.DataFrame, y: pd.Series) -> Any:
    """The whole path to a production alias: bob trains and registers, alice approves."""
    from sklearn.linear_model import LogisticRegression

    write_project(folder, project="bench", owner="alice")
    git(folder, "init", "-q")
    git(folder, "commit", "-q", "--allow-empty", "-m", "init")
    git(folder, "remote", "add", "origin", "https://git.example.com/bench.git")
    frame = x.assign(label=y)
    frame[:450].to_csv(folder / "train.csv", index=False)
    frame[450:].to_csv(folder / "holdout.csv", index=False)
    (folder / "models").mkdir()
    (folder / "models" / "bench.yaml").write_text(RULES.format(python=sys.executable))
    git(folder, "add", "models", "leanops.yaml")
    git(folder, "commit", "-q", "-m", "rules")
    with Workspace.from_config(folder) as ws:
        ws.bootstrap()
        ws.users.add("bob", roles=[Role.DEVELOPER])
        token = ws.users.create_token("bob").plaintext
        with Workspace.from_config(folder, token=token) as bob:
            bob.datasets.register(folder / "train.csv", name="train")
            bob.datasets.register(folder / "holdout.csv", name="holdout")
            tags = {"owner": "bob", "cost_center": "bench"}
            with bob.runs.start(
                "bench", params={"max_iter": 1000}, datasets=["train@v1"], features=list(x), tags=tags, code_dir=folder
            ) as run:
                model = LogisticRegression(max_iter=1000).fit(x[:450], y[:450])
                run.log_metric("train_accuracy", model.score(x[:450], y[:450]))
                run.log_model(model, input_example=x[:5])
            bob.models.register(run.id, "bench")
        ws.models.evaluate("bench", 1, "production")
        ws.models.approve("bench", 1, "production", reason="benchmark")
        ws.models.promote("bench", 1, "production", reason="benchmark")
        return ws.models.load("bench", 1)


def raw_floor(model: Any, record: Any, n: int) -> dict[str, float]:
    """`model.predict` on one record in-process: on a DataFrame (what a user calls) or an array."""
    import warnings

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    for _ in range(50):
        model.predict(record)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        model.predict(record)
        times.append(time.perf_counter() - t0)
    return summary(times, sum(times))


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "requests_per_second": round(len(ordered) / elapsed, 1),
    }


def _client(url: str, body: bytes, n: int | None, seconds: float | None, out: Any) -> None:
    import httpx

    latencies, failures = [], 0
    with httpx.Client(headers={"content-type": "application/json"}, timeout=30) as client:
        for _ in range(20):  # warm the connection
            client.post(url, content=body)
        stop = time.perf_counter() + (seconds or 1e9)
        started = time.perf_counter()
        while (n is None or len(latencies) < n) and time.perf_counter() < stop:
            t0 = time.perf_counter()
            ok = client.post(url, content=body).is_success
            latencies.append(time.perf_counter() - t0)
            failures += not ok
        out.put((latencies, failures, time.perf_counter() - started))


def load(url: str, body: bytes, *, clients: int, n: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(url, body, n, seconds, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    latencies = [t for r in results for t in r[0]]
    elapsed = max(r[2] for r in results)
    return {**summary(latencies, elapsed), "clients": clients, "failures": sum(r[1] for r in results)}


def histogram_p50(metrics: str, name: str) -> float | None:
    """The median from a Prometheus histogram, interpolated within its bucket (ms)."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    half, lower, below = buckets[-1][1] / 2, 0.0, 0.0
    for upper, count in buckets:
        if count >= half:
            return round(1000 * (lower + (upper - lower) * (half - below) / max(count - below, 1e-9)), 3)
        lower, below = upper, count
    return None


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


def bench_leanops(folder: Path, record: dict[str, float], args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    port = free_port()
    env = {**os.environ, "LEANOPS_SERVING__SAMPLE_RATE": "1.0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leanops.cli", "serve", "bench", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", proc)
        body = json.dumps({"records": [record]}).encode()
        one = load(f"{base}/predict", body, clients=1, n=args.requests)
        eight = load(f"{base}/predict", body, clients=8, seconds=args.seconds)
        server_p50 = histogram_p50(httpx.get(f"{base}/metrics").text, "leanops_predict_latency_seconds")
    finally:
        proc.terminate()
        proc.wait(30)
    return {"one_client": one, "eight_clients": eight, "server_side_p50_ms": server_p50}


def bench_mlflow(x: pd.DataFrame, y: pd.Series, record: dict[str, float], args: argparse.Namespace) -> dict[str, Any]:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `make bench` (benchmarks/run.sh makes it) or pass --skip-mlflow")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        np.savez(Path(tmp) / "train.npz", x=x[:450].to_numpy(), y=y[:450].to_numpy(), columns=np.array(list(x)))
        peer = subprocess.Popen(
            [
                str(python),
                str(HERE / "peers" / "mlflow_serving.py"),
                "--data",
                str(Path(tmp) / "train.npz"),
                "--dir",
                tmp,
                "--port",
                str(port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            info = json.loads(peer.stdout.readline())
            body = json.dumps({"dataframe_records": [record]}).encode()
            url = f"http://127.0.0.1:{port}/invocations"
            one = load(url, body, clients=1, n=args.requests)
            eight = load(url, body, clients=8, seconds=args.seconds)
        finally:
            peer.stdin.close()
            peer.wait(60)
    return {"version": info["version"], "one_client": one, "eight_clients": eight}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="Sequential requests for one client")
    parser.add_argument("--seconds", type=float, default=10.0, help="How long 8 clients send")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    x, y = data()
    record = x.iloc[0].to_dict()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        model = release(Path(tmp), x, y)
        floor = raw_floor(model, x.iloc[:1], args.requests)
        floor_numpy = raw_floor(model, x.iloc[:1].to_numpy(), args.requests)
        leanops = bench_leanops(Path(tmp), record, args)
    mlflow = None if args.skip_mlflow else bench_mlflow(x, y, record, args)
    result: dict[str, Any] = {
        "benchmark": "serving",
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "goals": {
            "server_side_p50_over_raw_ms": "< 1",
            "mlflow_p50_over_leanops_p50_one_client": ">= 4",
            "leanops_rps_over_mlflow_rps_eight_clients": ">= 5",
        },
        "raw_predict": floor,
        "raw_predict_numpy": floor_numpy,
        "leanops": leanops,
        "mlflow": mlflow,
    }
    overhead = (
        None if leanops["server_side_p50_ms"] is None else round(leanops["server_side_p50_ms"] - floor["p50_ms"], 3)
    )
    result["server_side_p50_over_raw_ms"] = overhead
    if mlflow:
        result["ratios"] = {
            "mlflow_p50_over_leanops_p50_one_client": ratio(
                mlflow["one_client"]["p50_ms"], leanops["one_client"]["p50_ms"]
            ),
            "leanops_rps_over_mlflow_rps_one_client": ratio(
                leanops["one_client"]["requests_per_second"], mlflow["one_client"]["requests_per_second"]
            ),
            "leanops_rps_over_mlflow_rps_eight_clients": ratio(
                leanops["eight_clients"]["requests_per_second"], mlflow["eight_clients"]["requests_per_second"]
            ),
            "mlflow_p99_over_leanops_p99_eight_clients": ratio(
                mlflow["eight_clients"]["p99_ms"], leanops["eight_clients"]["p99_ms"]
            ),
        }
    out = HERE / "results" / "serving.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
