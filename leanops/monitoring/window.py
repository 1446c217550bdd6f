"""A monitoring window: the logged predictions (and their feedback) of the last N seconds,
read with DuckDB straight from the day-partitioned Parquet files, no copy, no server."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from leanops.serving.predlog import FEEDBACK, PREDICTIONS


def _glob(root: Path, kind: str, since: datetime) -> list[str]:
    """The day folders that can hold rows since `since` (partition pruning by folder name)."""
    first = since.date().isoformat()
    folders = sorted(p for p in (root / kind).glob("date=*") if p.name.removeprefix("date=") >= first)
    return [str(f / "*.parquet") for f in folders if any(f.glob("*.parquet"))]


def read_window(root: Path, now: datetime, seconds: float) -> pd.DataFrame:
    """Predictions logged in (now - seconds, now], one row per predicted row, with the latest
    feedback's `label`, `outcome` and `feedback_delay_s` where it has arrived."""
    since = now - timedelta(seconds=seconds)
    predictions = _glob(root, PREDICTIONS, since)
    if not predictions:
        return pd.DataFrame()
    rows = (
        "SELECT * FROM read_parquet($predictions, union_by_name=true, hive_partitioning=false) "
        "WHERE time > $since AND time <= $now"
    )
    params: dict[str, object] = {"predictions": predictions, "since": since, "now": now}
    feedback = _glob(root, FEEDBACK, since - timedelta(days=30))
    con = duckdb.connect()
    try:
        if not feedback:
            query = f"SELECT *, NULL AS label, NULL AS outcome, NULL AS feedback_delay_s FROM ({rows})"
            return con.execute(query, params).df()
        query = (
            f"WITH p AS ({rows}), f AS (SELECT request_id, arg_max(label, time) AS label, "
            "arg_max(outcome, time) AS outcome, max(time) AS feedback_time "
            "FROM read_parquet($feedback, union_by_name=true, hive_partitioning=false) GROUP BY request_id) "
            "SELECT p.*, f.label, f.outcome, epoch(f.feedback_time) - epoch(p.time) AS feedback_delay_s "
            "FROM p LEFT JOIN f USING (request_id)"
        )
        return con.execute(query, params | {"feedback": feedback}).df()
    finally:
        con.close()
