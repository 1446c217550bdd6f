"""The prediction log: what was asked, what was answered, by which version, how fast.

Entries go to a bounded queue on the request path and a background thread appends them in
batches to Parquet files partitioned by day (`predictions/date=2026-12-03/part-….parquet`),
which monitoring reads with DuckDB. A full queue drops and counts, never blocks: a slow disk
must not become slow predictions. Feedback (delayed labels and business outcomes) is appended
the same way under `feedback/`.
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
INPUT_PREFIX = "in_"  # input columns are kept as in_<name>, beside the fixed fields


def _partition(root: Path, kind: str, at: datetime) -> Path:
    return root / kind / f"date={at.astimezone(UTC).date().isoformat()}"


def write_batch(root: Path, kind: str, rows: list[dict[str, Any]]) -> list[Path]:
    """Append `rows` as one Parquet file per day they fall on; written under a temp name and
    renamed, so a reader never sees half a file."""
    by_day: dict[Path, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(_partition(root, kind, row["time"]), []).append(row)
    written = []
    for folder, day_rows in by_day.items():
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{datetime.now(UTC):%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(pa.Table.from_pylist(day_rows), tmp)
        os.replace(tmp, folder / name)
        written.append(folder / name)
    return written


class Appender:
    """A bounded queue drained by one background thread into Parquet batches."""

    def __init__(
        self, root: Path, kind: str, *, capacity: int = 10_000, batch_rows: int = 1_000, flush_seconds: float = 1.0
    ) -> None:
        self.root, self.kind = Path(root), kind
        self.batch_rows, self.flush_seconds = batch_rows, flush_seconds
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._drain, name=f"leanops-{kind}-log", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> bool:
        try:
            self._queue.put_nowait(row)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _drain(self) -> None:
        batch: list[dict[str, Any]] = []
        done = False
        while not done:
            try:
                row = self._queue.get(timeout=self.flush_seconds)
                if row is None:
                    done = True
                else:
                    batch.append(row)
                    while len(batch) < self.batch_rows:
                        row = self._queue.get_nowait()
                        if row is None:
                            done = True
                            break
                        batch.append(row)
            except queue.Empty:
                pass
            if batch and (done or len(batch) >= self.batch_rows or self._queue.empty()):
                try:
                    write_batch(self.root, self.kind, batch)
                    self.written += len(batch)
                except OSError:
                    self.dropped += len(batch)  # counted, like a full queue; serving goes on
                batch = []


class PredictionLog:
    """Prediction and feedback logs for one model in one zone, sampled and off the request path."""

    def __init__(
        self,
        root: Path,
        *,
        sample_rate: float = 1.0,
        inputs: Iterable[str] | None = None,
        capacity: int = 10_000,
        flush_seconds: float = 1.0,
        remember: int = 100_000,
    ) -> None:
        self.root = Path(root)
        self.sample_rate = sample_rate
        self.inputs = None if inputs is None else list(inputs)
        self.predictions = Appender(self.root, PREDICTIONS, capacity=capacity, flush_seconds=flush_seconds)
        self.feedback = Appender(self.root, FEEDBACK, capacity=capacity, flush_seconds=flush_seconds)
        self._recent: OrderedDict[str, None] = OrderedDict()  # request ids this process answered
        self._remember = remember
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        return self.predictions.dropped + self.feedback.dropped

    def record(
        self,
        *,
        request_id: str,
        model: str,
        version: int,
        zone: str,
        inputs: dict[str, list[Any]] | None,
        predictions: list[Any],
        probabilities: list[list[float]] | None,
        latency_ms: float,
        at: datetime | None = None,
    ) -> None:
        """Queue one request's rows (one per input row), if sampled in."""
        with self._lock:
            self._recent[request_id] = None
            if len(self._recent) > self._remember:
                self._recent.popitem(last=False)
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            return
        at = at or datetime.now(UTC)
        inputs = inputs or {}
        kept = [c for c in (self.inputs if self.inputs is not None else inputs) if c in inputs]
        records = [dict(zip(kept, row, strict=True)) for row in zip(*(inputs[c] for c in kept), strict=True)]
        records = records or [{} for _ in predictions]
        for i, (features, prediction) in enumerate(zip(records, predictions, strict=False)):
            proba = probabilities[i] if probabilities is not None else None
            self.predictions.put(
                {
                    "request_id": request_id,
                    "row": i,
                    "time": at,
                    "model": model,
                    "version": version,
                    "zone": zone,
                    "latency_ms": latency_ms,
                    "prediction": json.dumps(prediction),
                    "score": max(proba) if proba else None,
                    "probabilities": proba,
                    **{f"{INPUT_PREFIX}{k}": v for k, v in features.items()},
                }
            )

    def answered(self, request_id: str) -> bool:
        """Whether a request id was answered: by this process, or by any replica's flushed log."""
        with self._lock:
            if request_id in self._recent:
                return True
        folder = self.root / PREDICTIONS
        if not any(folder.glob("date=*/*.parquet")):
            return False
        import duckdb

        pattern = str(folder / "date=*" / "*.parquet")
        found = duckdb.execute(
            "SELECT 1 FROM read_parquet(?, union_by_name=true) WHERE request_id = ? LIMIT 1", [pattern, request_id]
        ).fetchone()
        return found is not None

    def record_feedback(
        self, request_id: str, *, label: Any = None, outcome: float | None = None, at: datetime | None = None
    ) -> None:
        self.feedback.put(
            {
                "request_id": request_id,
                "time": at or datetime.now(UTC),
                "label": None if label is None else json.dumps(label),
                "outcome": outcome,
            }
        )

    def close(self) -> None:
        self.predictions.close()
        self.feedback.close()
