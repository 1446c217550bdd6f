"""Inside a job: what the runner handed the entrypoint, and logging to the job's run.

    from leanops.jobs import context

    def main(lr: float = 0.1) -> dict[str, float]:
        ctx = context()
        start = load_checkpoint(ctx.checkpoint_dir)     # survives retries of this job
        ...
        ctx.log_metric("loss", loss, step=epoch)       # lands in the job's tracked run
        return {"auc": auc}                            # recorded as the run's final metrics

Everything comes from LEANOPS_* variables set by the runner, so the same entrypoint also runs
outside a job (then `in_job` is False, paths are None and metrics go nowhere).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any


@dataclass
class JobContext:
    job_id: str | None
    name: str | None
    attempt: int
    run_id: str | None
    params: dict[str, Any]
    datasets: list[str]
    seed: int | None
    scratch_dir: Path | None
    output_dir: Path | None
    checkpoint_dir: Path | None
    deadline_at: float | None
    root: Path | None
    _points: list[tuple[str, int, float | None, float, str | None]] = field(default_factory=list, repr=False)
    _steps: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def in_job(self) -> bool:
        return self.job_id is not None

    @property
    def seconds_left(self) -> float | None:
        """Until the job's deadline: a long loop can checkpoint and stop before it is stopped."""
        return None if self.deadline_at is None else self.deadline_at - time.time()

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Buffer one point for the job's run; written on `flush()` and when the process exits."""
        if self.run_id is None:
            return
        v = float(value)
        with self._lock:
            step = self._steps.get(name, -1) + 1 if step is None else int(step)
            self._steps[name] = step
            flag = None if v - v == 0.0 else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
            self._points.append((name, step, None if flag else v, time.time(), flag))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def load_dataset(self, ref: str | None = None) -> Any:
        """A dataset snapshot of the job as a DataFrame (the first one by default), read verified."""
        ref = ref or (self.datasets[0] if self.datasets else None)
        if ref is None:
            raise LookupError("this job names no dataset")
        return _workspace(str(self.root) if self.root else None).datasets.load(ref)

    def flush(self) -> None:
        """Write the buffered points to the run, in one transaction."""
        with self._lock:
            points, self._points = self._points, []
        if not points or self.run_id is None:
            return
        ws = _workspace(str(self.root) if self.root else None)
        record = ws.runs.get(self.run_id)
        ws.runs.write_batch(record, points, [], {})


@cache
def _workspace(root: str | None) -> Any:
    from leanops.workspace import Workspace

    # The runner opened (and migrated) this store already; skipping the check saves a second.
    return Workspace.from_config(Path(root) if root else None, migrate=False)


_CONTEXT: JobContext | None = None


def context() -> JobContext:
    """This process's job context (one per process)."""
    global _CONTEXT
    if _CONTEXT is None:
        env = os.environ
        path = lambda key: Path(env[key]) if env.get(key) else None  # noqa: E731
        _CONTEXT = JobContext(
            job_id=env.get("LEANOPS_JOB_ID"),
            name=env.get("LEANOPS_JOB_NAME"),
            attempt=int(env.get("LEANOPS_ATTEMPT") or 1),
            run_id=env.get("LEANOPS_RUN_ID"),
            params=json.loads(env.get("LEANOPS_PARAMS") or "{}"),
            datasets=json.loads(env.get("LEANOPS_DATASETS") or "[]"),
            seed=int(env["LEANOPS_SEED"]) if env.get("LEANOPS_SEED") else None,
            scratch_dir=path("LEANOPS_SCRATCH_DIR"),
            output_dir=path("LEANOPS_OUTPUT_DIR"),
            checkpoint_dir=path("LEANOPS_CHECKPOINT_DIR"),
            deadline_at=float(env["LEANOPS_DEADLINE_AT"]) if env.get("LEANOPS_DEADLINE_AT") else None,
            root=path("LEANOPS_PROJECT_ROOT"),
        )
        atexit.register(_CONTEXT.flush)
    return _CONTEXT
