"""The model server's HTTP face (FastAPI): /predict, /feedback, /health, /ready, /metrics.

Thin by design: it parses, calls the live model and the prediction log, and formats. Every
refusal is one problem+json shape — 400 malformed JSON, 404 unknown request id, 413 too
large, 422 a payload that does not fit the signature (with per-field `errors`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from leanops.serving.live import LiveModel
from leanops.serving.predictor import PayloadError
from leanops.serving.predlog import PredictionLog

# Fine below a millisecond: the server's own overhead over `predict` is what this measures.
LATENCY_BUCKETS = (
    0.0001,
    0.0002,
    0.0003,
    0.0004,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Metrics:
    """Per-process Prometheus metrics; each app gets its own registry."""

    def __init__(self, live: LiveModel, log: PredictionLog | None) -> None:
        self.registry = CollectorRegistry()
        labels = ["model", "zone", "version"]
        self.requests = Counter("leanops_requests", "Prediction requests", [*labels, "status"], registry=self.registry)
        self.errors = Counter("leanops_errors", "Prediction requests that failed (5xx)", labels, registry=self.registry)
        self.latency = Histogram(
            "leanops_predict_latency_seconds",
            "Server-side time per /predict",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "leanops_predictions",
            "Predicted values (class label, or 'numeric')",
            [*labels, "value"],
            registry=self.registry,
        )
        self.score = Histogram(
            "leanops_prediction_score",
            "Highest class probability per prediction",
            labels,
            buckets=[i / 10 for i in range(1, 11)],
            registry=self.registry,
        )
        version = Gauge("leanops_model_version", "The version being served", ["model", "zone"], registry=self.registry)
        version.labels(live.name, str(live.zone)).set_function(lambda: live.version)
        dropped = Gauge("leanops_prediction_log_dropped", "Log rows dropped (queue full)", registry=self.registry)
        dropped.set_function(lambda: log.dropped if log else 0)

    def observe(
        self, live: LiveModel, version: int, seconds: float, predictions: list[Any], scores: list[float]
    ) -> None:
        labels = (live.name, str(live.zone), str(version))
        self.requests.labels(*labels, "200").inc()
        self.latency.labels(*labels).observe(seconds)
        for value in predictions:
            self.predictions.labels(*labels, str(value) if not isinstance(value, float) else "numeric").inc()
        for score in scores:
            self.score.labels(*labels).observe(score)


def create_app(
    live: LiveModel,
    log: PredictionLog | None,
    *,
    max_body_bytes: int = 1 << 20,
    poll_seconds: float = 1.0,
    meter_seconds: float = 300.0,
) -> FastAPI:
    metrics = Metrics(live, log)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        live.watch(poll_seconds, meter_seconds)
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            live.close()
            if log is not None:
                log.close()

    app = FastAPI(title=f"leanops model server: {live.name}@{live.zone}", lifespan=lifespan)
    app.state.ready = False
    app.state.live, app.state.metrics = live, metrics

    async def body_of(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return problem(413, "Payload too large", f"The body is {length} bytes; the limit is {max_body_bytes}.")
        raw = await request.body()
        if len(raw) > max_body_bytes:
            return problem(413, "Payload too large", f"The body is {len(raw)} bytes; the limit is {max_body_bytes}.")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return problem(400, "Malformed JSON", f"The body is not valid JSON: {exc}.")

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        payload = await body_of(request)
        state = live.state  # read once: a swap during this request does not affect it
        labels = (live.name, str(live.zone), str(state.predictor.number))
        if isinstance(payload, Response):
            metrics.requests.labels(*labels, str(payload.status_code)).inc()
            return payload
        started = time.perf_counter()
        try:
            features = state.predictor.frame(payload)
            predictions, probabilities = state.predictor.predict(features)
        except PayloadError as exc:
            metrics.requests.labels(*labels, "422").inc()
            return problem(422, "Input does not fit the model", str(exc), errors=exc.errors)
        except (ValueError, TypeError) as exc:  # the model refused values the signature allowed (NaN, say)
            metrics.requests.labels(*labels, "422").inc()
            return problem(422, "The model could not score this input", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - counted and reported, never a traceback to the client
            state.errors += 1
            metrics.requests.labels(*labels, "500").inc()
            metrics.errors.labels(*labels).inc()
            return problem(500, "Prediction failed", f"{type(exc).__name__} in the model; see the server log.")
        seconds = time.perf_counter() - started
        state.requests += len(predictions)
        request_id = uuid.uuid4().hex
        scores = [max(p) for p in probabilities] if probabilities else []
        metrics.observe(live, state.predictor.number, seconds, predictions, scores)
        if log is not None:
            log.record(
                request_id=request_id,
                model=live.name,
                version=state.predictor.number,
                zone=str(live.zone),
                inputs=features.columns,
                predictions=predictions,
                probabilities=probabilities,
                latency_ms=seconds * 1000,
            )
        body: dict[str, Any] = {
            "request_id": request_id,
            "model": live.name,
            "version": state.predictor.number,
            "predictions": predictions,
        }
        if probabilities is not None:
            body |= {"probabilities": probabilities, "classes": state.predictor.classes}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.post("/feedback")
    async def feedback(request: Request) -> Response:
        payload = await body_of(request)
        if isinstance(payload, Response):
            return payload
        errors = _feedback_errors(payload)
        if errors:
            return problem(422, "Invalid feedback", "; ".join(e["msg"] for e in errors), errors=errors)
        if log is None:
            return problem(409, "No prediction log", "This server keeps no prediction log, so it takes no feedback.")
        request_id = payload["request_id"]
        if not log.answered(request_id):
            return problem(404, "Unknown request id", f"No prediction with request id {request_id!r} was logged.")
        log.record_feedback(request_id, label=payload.get("label"), outcome=payload.get("outcome"))
        return JSONResponse({"request_id": request_id, "recorded": True}, status_code=202)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Response:
        state = live.state
        body = {
            "model": live.name,
            "zone": str(live.zone),
            "version": state.predictor.number,
            "deployment": state.deployment.id,
            "swaps": live.swaps,
            "last_error": live.last_error,
        }
        return JSONResponse(body, status_code=200 if app.state.ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _feedback_errors(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return [{"loc": [], "msg": "the body must be a JSON object"}]
    errors = []
    if not isinstance(payload.get("request_id"), str) or not payload.get("request_id"):
        errors.append({"loc": ["request_id"], "msg": "request_id (a string) is required"})
    if payload.get("label") is None and payload.get("outcome") is None:
        errors.append({"loc": [], "msg": "give a label, an outcome, or both"})
    outcome = payload.get("outcome")
    if outcome is not None and (isinstance(outcome, bool) or not isinstance(outcome, int | float)):
        errors.append({"loc": ["outcome"], "msg": f"outcome must be a number, got {outcome!r}"})
    if unknown := sorted(set(payload) - {"request_id", "label", "outcome"}):
        errors.append({"loc": unknown, "msg": f"unknown fields: {', '.join(unknown)}"})
    return errors


def from_environment() -> FastAPI:
    """The app for each uvicorn worker process (`--workers N`): built from LEANOPS_SERVE_*."""
    from leanops.serving.server import build

    return build(
        os.environ["LEANOPS_SERVE_MODEL"],
        os.environ["LEANOPS_SERVE_ZONE"],
        endpoint=os.environ["LEANOPS_SERVE_ENDPOINT"],
        root=os.environ.get("LEANOPS_SERVE_ROOT", "."),
        trusted=tuple(filter(None, os.environ.get("LEANOPS_SERVE_TRUST", "").split(","))),
    )[0]
