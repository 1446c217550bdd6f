"""The model server over a real approved model: predictions, refusals, metrics, the prediction
log and feedback, metering, and hot swaps under traffic with zero failed requests."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from leanops.cost.ledger import CostKind
from leanops.errors import IntegrityError, NotFound, PolicyDenied
from leanops.serving.predlog import PredictionLog


def _records(served, n: int = 2) -> list[dict]:  # noqa: ANN001
    return served.x[:n].to_dict("records")


def test_predict_takes_records_or_columns_and_answers_with_version_and_request_id(served, server) -> None:  # noqa: ANN001
    app, live = server()
    model = served.admin.models.load("churn", 1)
    with TestClient(app) as client:
        got = client.post("/predict", json={"records": _records(served, 3)}).json()
        cols = client.post("/predict", json={"columns": served.x[:3].to_dict("list")}).json()
    assert got["model"] == "churn" and got["version"] == 1 and len(got["request_id"]) == 32
    assert got["predictions"] == model.predict(served.x[:3]).tolist() == cols["predictions"]
    assert got["classes"] == [0, 1] and len(got["probabilities"]) == 3
    assert got["probabilities"][0] == pytest.approx(model.predict_proba(served.x[:1])[0].tolist())


def test_bad_input_is_refused_with_a_problem_per_field(served, server) -> None:  # noqa: ANN001
    app, _ = server(max_body_bytes=2_000)
    with TestClient(app) as client:
        malformed = client.post("/predict", content=b'{"records": [', headers={"content-type": "application/json"})
        assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["detail"]
        wrong = client.post("/predict", json={"records": [{"age": "old", "height": 2}]})
        assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
        assert {(tuple(e["loc"]), e["msg"]) for e in wrong.json()["errors"]} == {
            (("records", 0, "height"), "unknown column"),
            (("records", 0, "age"), "expected a number, got 'old'"),
            (("records", 0, "spend"), "missing column"),
        }
        ragged = client.post("/predict", json={"columns": {"age": [1.0, 2.0], "spend": [1.0]}})
        assert ragged.status_code == 422 and "differ in length" in ragged.json()["detail"]
        neither = client.post("/predict", json={"rows": []})
        assert neither.status_code == 422
        huge = client.post("/predict", json={"records": _records(served, 100)})
        assert huge.status_code == 413 and "limit is 2000" in huge.json()["detail"]
        unknown = client.post("/feedback", json={"request_id": "nope", "label": 1})
        assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
        empty = client.post("/feedback", json={"request_id": "x"})
        assert empty.status_code == 422
        metrics = client.get("/metrics").text
    assert 'leanops_requests_total{model="churn",status="422",version="1",zone="production"}' in metrics


def test_health_ready_and_metrics(served, server) -> None:  # noqa: ANN001
    app, _ = server()
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
        assert (ready["model"], ready["version"], ready["zone"]) == ("churn", 1, "production")
        for _ in range(3):
            client.post("/predict", json={"records": _records(served, 1)})
        text = client.get("/metrics").text
    assert 'leanops_model_version{model="churn",zone="production"} 1.0' in text
    assert 'leanops_requests_total{model="churn",status="200",version="1",zone="production"} 3.0' in text
    assert "leanops_predict_latency_seconds_bucket" in text and "leanops_predictions_total" in text


def test_only_an_approved_intact_version_is_served(served, server) -> None:  # noqa: ANN001
    with pytest.raises(NotFound, match="No version of churn serves in staging"):
        server(zone="staging")
    served.admin.settings.zones["production"].requires_approval = True
    with served.carol._store.transaction() as unit:  # an approval record lost behind the registry's back
        unit.conn.exec_driver_sql("DELETE FROM model_approvals WHERE version = 1")
    with pytest.raises(PolicyDenied, match="no approval for production"):
        server()
    denied = [r for r in served.admin.audit.tail(20) if r.policy_ids == ["gate:approval"]]
    assert [(r.actor, r.action) for r in denied] == [("carol", "deploy")]


def test_a_version_whose_bytes_changed_is_not_served(served, server) -> None:  # noqa: ANN001
    mv = served.admin.models.get("churn", 1)
    blob = next(f for f in mv.manifest.files if f.path == "model.skops")
    path = Path(served.admin.settings.artifacts_url) / "sha256" / blob.digest[:2] / blob.digest[2:]
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError):
        server()


def test_predictions_and_feedback_are_logged_to_parquet_by_day(served, server) -> None:  # noqa: ANN001
    app, live = server()
    with TestClient(app) as client:
        ids = [client.post("/predict", json={"records": _records(served, 2)}).json()["request_id"] for _ in range(3)]
        assert client.post("/feedback", json={"request_id": ids[0], "label": 1, "outcome": 12.5}).status_code == 202
    root = served.admin.serving.log_dir("churn", "production")
    assert [p.name.startswith("date=") for p in (root / "predictions").iterdir()] == [True]
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{root}/predictions/*/*.parquet', union_by_name=true)").df()
    assert len(rows) == 6 and set(rows.request_id) == set(ids) and set(rows.version) == {1}
    assert {"in_age", "in_spend", "latency_ms", "score", "probabilities"} <= set(rows.columns)
    feedback = duckdb.sql(f"SELECT * FROM read_parquet('{root}/feedback/*/*.parquet')").df()
    [row] = feedback[["request_id", "label", "outcome"]].to_dict("records")
    assert row == {"request_id": ids[0], "label": "1", "outcome": 12.5}


def test_a_full_log_queue_drops_and_counts_but_never_blocks(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=1, flush_seconds=5)
    started = time.perf_counter()
    for i in range(500):
        log.record(
            request_id=str(i),
            model="m",
            version=1,
            zone="production",
            inputs=None,
            predictions=[0],
            probabilities=None,
            latency_ms=1.0,
        )
    assert time.perf_counter() - started < 5  # it never waited for the writer
    assert log.dropped > 0 and log.answered("499")
    log.close()


def test_sampling_keeps_only_a_share_of_requests(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, sample_rate=0.0)
    log.record(
        request_id="a",
        model="m",
        version=1,
        zone="production",
        inputs=None,
        predictions=[0],
        probabilities=None,
        latency_ms=1.0,
    )
    log.close()
    assert not list(tmp_path.glob("predictions/*/*.parquet")) and log.answered("a")


def test_uptime_and_traffic_are_metered_per_endpoint(served, server) -> None:  # noqa: ANN001
    app, live = server(endpoint="churn-prod:8080")
    with TestClient(app) as client:
        for _ in range(4):
            client.post("/predict", json={"records": _records(served, 1)})
        time.sleep(0.05)
    [deployment] = served.admin.serving.deployments("churn")
    assert (deployment.version, deployment.requests, deployment.stop_reason) == (1, 4, "server stopped")
    assert deployment.started_by == "carol" and deployment.stopped_at is not None
    entries = [e for e in served.admin.cost.ledger() if e.tags.get("endpoint") == "churn-prod:8080"]
    kinds = {e.kind: e for e in entries}
    assert kinds[CostKind.PREDICTIONS].usage.requests == 4 and kinds[CostKind.SERVING].usage.endpoint_hours > 0
    assert {e.tags["model"] for e in entries} == {"churn"} and {e.tags["owner"] for e in entries} == {"bob"}


class _Uvicorn:
    """A real server on a free port, in a thread."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _wait_for_version(url: str, version: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/ready").json()["version"] != version:
        assert time.monotonic() < deadline, f"the server never swapped to v{version}"
        time.sleep(0.05)


@pytest.mark.slow
def test_swaps_and_rollbacks_under_steady_traffic_fail_no_request(served, server) -> None:  # noqa: ANN001
    app, live = server(poll_seconds=0.1)
    body = json.dumps({"records": _records(served, 1)})
    results: list[tuple[int, int]] = []
    stop = threading.Event()

    def traffic(url: str) -> None:
        with httpx.Client(base_url=url) as client:
            while not stop.is_set():
                r = client.post("/predict", content=body, headers={"content-type": "application/json"})
                results.append((r.status_code, r.json().get("version", 0)))

    with _Uvicorn(app) as url:
        clients = [threading.Thread(target=traffic, args=(url,)) for _ in range(4)]
        for c in clients:
            c.start()
        time.sleep(0.3)
        served.carol.models.promote("churn", 2, "production", reason="v2")
        _wait_for_version(url, 2)
        time.sleep(0.3)
        served.carol.models.rollback("churn", "production", reason="drill")
        _wait_for_version(url, 1)
        time.sleep(0.3)
        stop.set()
        for c in clients:
            c.join(10)
    assert [r for r in results if r[0] != 200] == []
    assert {v for _, v in results} == {1, 2} and len(results) > 50
    history = [(d.version, d.stop_reason) for d in served.admin.serving.deployments("churn")]
    assert history == [(1, "swapped to v2"), (2, "swapped to v1"), (1, "server stopped")]


def test_two_replicas_see_the_same_promotion(served, server, as_user) -> None:  # noqa: ANN001
    (app_a, a), (app_b, b) = server(endpoint="replica-a:1"), server(endpoint="replica-b:1")
    served.carol.models.promote("churn", 2, "production", reason="v2")
    assert a.refresh() and b.refresh()
    assert (a.version, b.version) == (2, 2)
    with TestClient(app_a) as ca, TestClient(app_b) as cb:
        versions = {c.post("/predict", json={"records": _records(served, 1)}).json()["version"] for c in (ca, cb)}
    assert versions == {2}
    active = served.admin.serving.deployments("churn", active=True)
    assert active == []  # both closed with their apps
    assert {d.endpoint for d in served.admin.serving.deployments("churn") if d.version == 2} == {
        "replica-a:1",
        "replica-b:1",
    }
