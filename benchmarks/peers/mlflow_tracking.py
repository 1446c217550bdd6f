"""MLflow's half of bench_tracking.py, run inside benchmarks/.venv-mlflow; prints one JSON line.

    benchmarks/.venv-mlflow/bin/python benchmarks/peers/mlflow_tracking.py --dir /tmp/x

Uses MLflow's own SQLite backend (sqlite:///…/mlflow.db) through MlflowClient, the way a user
would: per-call `log_metric` (measured on a smaller count: each call is a transaction),
`log_batch` of 1,000 points, and `search_runs` with the same filter and order as leanops.
The 50,000 runs to search are seeded by bulk insert through MLflow's SqlAlchemyStore session
and ORM models; seeding through the client API is measured on a sample and its projected
time for all runs reported, since it is far too slow to wait for.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from importlib.metadata import version

import mlflow
from mlflow.entities import Metric, Param
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlParam, SqlRun, SqlTag
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
FILTER = "params.lr = '0.01' and metrics.auc > 0.8"
ORDER = ["metrics.auc DESC"]
SEED_BUDGET_SECONDS = 300
SEARCH_BUDGET_SECONDS = 120  # per kind of search: MLflow takes seconds per search at 50,000 runs


def per_call(client: MlflowClient, exp: str, n: int) -> dict:
    run_id = client.create_run(exp).info.run_id
    began = time.perf_counter()
    for i in range(n):
        client.log_metric(run_id, "loss", random.random(), step=i)
    took = time.perf_counter() - began
    client.set_terminated(run_id)
    return {
        "points": n,
        "seconds": round(took, 3),
        "points_per_second": round(n / took),
        "per_call_microseconds": round(took / n * 1e6, 1),
    }


def batched(client: MlflowClient, exp: str, n: int, size: int = 1000) -> dict:
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    batches = [
        [Metric("loss", random.random(), now, i) for i in range(start, min(n, start + size))]
        for start in range(0, n, size)
    ]
    began = time.perf_counter()
    for batch in batches:
        client.log_batch(run_id, metrics=batch)
    took = time.perf_counter() - began
    client.set_terminated(run_id)
    return {"points": n, "batch_size": size, "seconds": round(took, 3), "points_per_second": round(n / took)}


def api_seed_rate(client: MlflowClient, sample: int) -> float:
    """Runs per second when each is made through the client: create, log params+metrics, end."""
    exp = client.create_experiment("api-seed-sample")
    now = int(time.time() * 1000)
    began = time.perf_counter()
    for i in range(sample):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(
            run_id,
            params=[
                Param("lr", str(LRS[i % 10])),
                Param("depth", str(i % 7 + 2)),
                Param("optimizer", ("adam", "sgd", "rmsprop")[i % 3]),
            ],
            metrics=[Metric("auc", random.random(), now, 99), Metric("loss", random.random(), now, 99)],
        )
        client.set_terminated(run_id)
    return sample / (time.perf_counter() - began)


def bulk_seed(store: SqlAlchemyStore, exp: str, n: int, chunk: int = 5000) -> tuple[int, float]:
    """n finished runs with 3 params, 2 latest metrics and a tag, through the store's ORM session."""
    rng = random.Random(7)
    now = int(time.time() * 1000)
    began = time.perf_counter()
    seeded = 0
    for start in range(0, n, chunk):
        runs, params, latest, tags = [], [], [], []
        for i in range(start, min(n, start + chunk)):
            rid = uuid.uuid4().hex
            t0 = now - (n - i) * 60_000
            runs.append(
                {
                    "run_uuid": rid,
                    "name": f"sweep-{i}",
                    "source_type": "LOCAL",
                    "source_name": "bench",
                    "entry_point_name": "",
                    "user_id": "alice",
                    "status": "FINISHED",
                    "start_time": t0,
                    "end_time": t0 + 30_000,
                    "source_version": "0" * 40,
                    "lifecycle_stage": "active",
                    "artifact_uri": f"file:///tmp/{rid}",
                    "experiment_id": int(exp),
                }
            )
            for key, value in (
                ("lr", str(LRS[i % 10])),
                ("depth", str(i % 7 + 2)),
                ("optimizer", ("adam", "sgd", "rmsprop")[i % 3]),
            ):
                params.append({"run_uuid": rid, "key": key, "value": value})
            for key in ("auc", "loss"):
                latest.append(
                    {"run_uuid": rid, "key": key, "value": rng.random(), "timestamp": t0, "step": 99, "is_nan": False}
                )
            tags.append({"run_uuid": rid, "key": "team", "value": ("a", "b")[i % 2]})
        with store.ManagedSessionMaker() as session:
            for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlLatestMetric, latest), (SqlTag, tags)):
                session.bulk_insert_mappings(model, rows)
        seeded = min(n, start + chunk)
        if time.perf_counter() - began > SEED_BUDGET_SECONDS:
            break
    return seeded, time.perf_counter() - began


def timed(fn, reps: int, budget: float = SEARCH_BUDGET_SECONDS) -> list[float]:
    """Up to `reps` timings, stopping once `budget` seconds are spent (at least 3 timings)."""
    out: list[float] = []
    started = time.perf_counter()
    while len(out) < reps and (len(out) < 3 or time.perf_counter() - started < budget):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--per-call", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--api-sample", type=int, default=200)
    args = parser.parse_args()

    uri = f"sqlite:///{args.dir}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    logging_exp = client.create_experiment("logging", artifact_location=f"file://{args.dir}/artifacts")
    result: dict = {"tool": "mlflow", "version": version("mlflow"), "backend": "sqlite (MLflow SqlAlchemyStore)"}
    result["log_metric_per_call"] = per_call(client, logging_exp, args.per_call)
    result["log_batch"] = batched(client, logging_exp, args.points)

    rate = api_seed_rate(client, args.api_sample)
    store = SqlAlchemyStore(uri, f"file://{args.dir}/artifacts")
    search_exp = client.create_experiment("search", artifact_location=f"file://{args.dir}/artifacts")
    seeded, seed_seconds = bulk_seed(store, search_exp, args.runs)
    note = "" if seeded == args.runs else f"seeding stopped at {seeded} runs after the {SEED_BUDGET_SECONDS}s budget"

    def search_frame() -> object:
        return mlflow.search_runs(experiment_ids=[search_exp], filter_string=FILTER, order_by=ORDER, max_results=1000)

    def search_entities() -> object:
        return client.search_runs([search_exp], filter_string=FILTER, order_by=ORDER, max_results=1000)

    frame = search_frame()
    assert (frame["params.lr"] == "0.01").all() and (frame["metrics.auc"] > 0.8).all()
    frames = timed(search_frame, args.reps)
    entities = timed(search_entities, args.reps, budget=0)
    result["search"] = {
        "runs": seeded,
        "seed_seconds": round(seed_seconds, 2),
        "seed_method": "bulk_insert_mappings through SqlAlchemyStore's session (MLflow ORM models)",
        "api_seed_runs_per_second": round(rate, 1),
        "api_seed_projected_seconds": round(args.runs / rate),
        "note": note,
        "query": f"mlflow.search_runs(filter_string={FILTER!r}, order_by={ORDER}, max_results=1000) -> DataFrame",
        "matched": len(frame),
        "median_ms": round(statistics.median(frames) * 1000, 2),
        "min_ms": round(min(frames) * 1000, 2),
        "client_search_runs_median_ms": round(statistics.median(entities) * 1000, 2),
        "repetitions": len(frames),
        "client_search_runs_repetitions": len(entities),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
