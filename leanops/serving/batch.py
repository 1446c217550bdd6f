"""Batch scoring: a Parquet or CSV file through the zone's approved version, chunk by chunk.

The same gates as the server (the zone's alias, its approval, verified bytes), the same
deployment record and metering (endpoint `batch:<file>`), the same prediction log. Input is
streamed in chunks so a file larger than memory scores in constant memory; the output is
written under a temp name and renamed, so a failed run leaves no half-written file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leanops.errors import ValidationError
from leanops.serving.predictor import Features, Predictor
from leanops.serving.predlog import PredictionLog
from leanops.serving.service import ServingService
from leanops.zones import Zone

FORMATS = (".parquet", ".csv")


@dataclass
class BatchResult:
    name: str
    version: int
    zone: str
    rows: int
    chunks: int
    output: str
    deployment: str
    seconds: float


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(f"{path}: batch scoring reads and writes .parquet or .csv, not {suffix or 'no suffix'}.")
    return suffix


def read_chunks(path: Path, rows: int) -> tuple[Iterator[pa.RecordBatch], int | None]:
    """Record batches of about `rows` rows, and the total when the format knows it."""
    if not path.is_file():
        raise ValidationError(f"{path} does not exist or is not a file.")
    if _format(path) == ".parquet":
        try:
            source = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValidationError(f"{path} is not a readable Parquet file: {exc}.") from None
        return source.iter_batches(batch_size=rows), source.metadata.num_rows
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=max(rows * 256, 1 << 20)))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"{path} is not a readable CSV file: {exc}.") from None
    return _sliced(reader, rows), None


def _sliced(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """CSV blocks are sized in bytes; cut them to at most `rows` rows."""
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)


def features_of(predictor: Predictor, frame: pd.DataFrame) -> Features:
    """The signature's columns of a chunk, cast to the signature's dtypes."""
    if predictor.columns is None:
        return Features(frame.to_numpy())
    missing = [c.name for c in predictor.columns if c.name not in frame.columns]
    if missing:
        raise ValidationError(f"The input lacks the model's columns: {', '.join(missing)}.", missing=missing)
    out = {}
    for column in predictor.columns:
        try:
            out[column.name] = frame[column.name].astype(column.dtype)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"Column {column.name!r} cannot be read as {column.dtype}: {exc}.") from None
    casted = pd.DataFrame(out)
    features = predictor.features(casted)
    features.columns = casted.to_dict("list")
    return features


def _scored(
    frame: pd.DataFrame, predictions: list[Any], probabilities: list[list[float]] | None, classes: Any
) -> pa.Table:
    frame = frame.assign(prediction=predictions)
    if probabilities is not None and classes is not None:
        proba = np.asarray(probabilities)
        frame = frame.assign(**{f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
    return pa.Table.from_pandas(frame, preserve_index=False)


def score_file(
    serving: ServingService,
    name: str,
    zone: Zone | str,
    source: Path,
    dest: Path,
    *,
    trusted: tuple[str, ...] = (),
    chunk_rows: int | None = None,
    executor: str = "local",
    progress: Callable[[int, int | None], None] | None = None,
) -> BatchResult:
    """Score `source` into `dest` with the version `zone` serves; metered and logged."""
    source, dest = Path(source), Path(dest)
    out_format = _format(dest)
    chunk_rows = chunk_rows or serving.settings.serving.batch_rows
    predictor = serving.load(name, zone, trusted=trusted)
    chunks, total = read_chunks(source, chunk_rows)
    settings = serving.settings.serving
    log = PredictionLog(
        serving.log_dir(name, zone),
        sample_rate=settings.sample_rate,
        inputs=settings.log_inputs,
        capacity=settings.queue_size,
    )
    deployment = serving.start(predictor.version, zone, f"batch:{source.name}")
    predict = _ray_predict(predictor, serving.settings.jobs.ray_address) if executor == "ray" else predictor.predict
    tmp = dest.with_name(f".{dest.name}.part")
    rows = n = 0
    started = time.perf_counter()
    writer: Any = None
    try:
        for n, batch in enumerate(chunks, start=1):
            frame = batch.to_pandas()
            features = features_of(predictor, frame)
            t0 = time.perf_counter()
            predictions, probabilities = predict(features)
            latency_ms = (time.perf_counter() - t0) * 1000
            table = _scored(frame, predictions, probabilities, predictor.classes)
            if writer is None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                writer = (
                    pq.ParquetWriter(tmp, table.schema)
                    if out_format == ".parquet"
                    else pacsv.CSVWriter(tmp, table.schema)
                )
            writer.write_table(table)
            log.record(
                request_id=f"batch-{deployment.id}-{n}",
                model=name,
                version=predictor.number,
                zone=str(zone),
                inputs=features.columns,
                predictions=predictions,
                probabilities=probabilities,
                latency_ms=latency_ms,
            )
            rows += len(predictions)
            if progress:
                progress(rows, total)
        if writer is None:
            raise ValidationError(f"{source} has no rows to score.")
        writer.close()
        writer = None
        os.replace(tmp, dest)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        log.close()
        serving.stop(deployment, reason="batch finished", requests=rows, errors=0)
    return BatchResult(
        name=name,
        version=predictor.number,
        zone=str(zone),
        rows=rows,
        chunks=n,
        output=str(dest),
        deployment=deployment.id,
        seconds=time.perf_counter() - started,
    )


def _ray_predict(
    predictor: Predictor, address: str | None
) -> Callable[[Any], tuple[list[Any], list[list[float]] | None]]:
    """Predict each chunk as a Ray task, the model shipped once to the object store."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
    model_ref = ray.put(predictor.estimator)
    has_proba = predictor.classes is not None and hasattr(predictor.model, "predict_proba")

    @ray.remote
    def score(model: Any, data: Any) -> tuple[list[Any], list[list[float]] | None]:
        predictions = np.asarray(model.predict(data)).tolist()
        return predictions, np.asarray(model.predict_proba(data)).tolist() if has_proba else None

    return lambda features: ray.get(score.remote(model_ref, features.data))
