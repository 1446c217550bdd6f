"""Sweeps: one spec fanned out over a grid or a random search, under the zone's quotas.

    trials = grid(["lr=0.01,0.1", "depth=3,5"])                  # 4 trials
    trials = random_trials(["lr=loguniform:1e-4:1e-1", "depth=int:2:8"], n=10, seed=0)
    result = Sweeper(ws.jobs).run("jobs/train.yaml", trials, parallel=2, metric="auc")

Each trial is a full job (its own record, attempts, deadline and tracked run), so a sweep
inherits every guardrail of a single job; the sweep id ties them together.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from leanops.errors import BudgetExceeded, LeanopsError, ValidationError
from leanops.jobs.models import JobStatus
from leanops.jobs.service import JobService
from leanops.jobs.spec import LoadedSpec
from leanops.zones import Zone


class Trial(BaseModel):
    index: int
    params: dict[str, str]
    job_id: str | None = None
    run_id: str | None = None
    status: str = "pending"  # pending | a JobStatus | refused
    reason: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    wall_seconds: float = 0.0


class SweepResult(BaseModel):
    sweep_id: str
    spec: str
    metric: str | None = None
    maximize: bool = True
    trials: list[Trial]

    def best(self, k: int = 3) -> list[Trial]:
        """The `k` best succeeded trials by the metric (all succeeded ones if no metric is set)."""
        done = [t for t in self.trials if t.status == JobStatus.SUCCEEDED]
        if self.metric is None:
            return done[:k]
        scored = [t for t in done if self.metric in t.metrics and not math.isnan(t.metrics[self.metric])]
        return sorted(scored, key=lambda t: t.metrics[self.metric], reverse=self.maximize)[:k]  # type: ignore[index]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for trial in self.trials:
            out[trial.status] = out.get(trial.status, 0) + 1
        return out


def grid(expressions: Sequence[str]) -> list[dict[str, str]]:
    """`["lr=0.01,0.1", "depth=3,5"]` → every combination, as param overrides."""
    axes: dict[str, list[str]] = {}
    for text in expressions:
        key, sep, values = text.partition("=")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not options:
            raise ValidationError(f"Grid axis {text!r} is not key=v1,v2,….", hint="Example: --grid lr=0.01,0.1")
        axes[key.strip()] = options
    if not axes:
        return []
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def random_trials(space: Sequence[str], n: int, seed: int | None = None) -> list[dict[str, str]]:
    """`n` draws from `key=uniform:a:b`, `key=loguniform:a:b`, `key=int:a:b` or `key=choice:x,y`."""
    if n < 1:
        raise ValidationError("A random search needs at least one trial.")
    rng = random.Random(seed)
    samplers = [_sampler(text) for text in space]
    if not samplers:
        raise ValidationError("A random search needs a search space.", hint="Example: --space lr=loguniform:1e-4:1e-1")
    return [{key: draw(rng) for key, draw in samplers} for _ in range(n)]


def _sampler(text: str) -> tuple[str, Callable[[random.Random], str]]:
    key, _, rule = text.partition("=")
    kind, _, args = rule.partition(":")
    try:
        if kind == "choice":
            options = [v for v in args.split(",") if v]
            if not options:
                raise ValueError
            return key, lambda r: r.choice(options)
        low, high = (float(v) for v in args.split(":"))
        if kind == "uniform":
            return key, lambda r: repr(r.uniform(low, high))
        if kind == "loguniform" and low > 0 and high > 0:
            return key, lambda r: repr(math.exp(r.uniform(math.log(low), math.log(high))))
        if kind == "int":
            return key, lambda r: str(r.randint(int(low), int(high)))
    except ValueError:
        pass
    raise ValidationError(
        f"Search space {text!r} is not understood.",
        hint="Use key=uniform:a:b, key=loguniform:a:b, key=int:a:b or key=choice:x,y.",
    )


class Sweeper:
    """Runs the trials of one sweep, at most `parallel` at a time."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    def run(
        self,
        spec: str | Path | LoadedSpec,
        trials: Sequence[Mapping[str, str]],
        *,
        parallel: int = 2,
        metric: str | None = None,
        maximize: bool = True,
        executor: str | None = None,
        allow_dirty: bool = False,
        on_trial: Callable[[Trial], None] | None = None,
    ) -> SweepResult:
        loaded = spec if isinstance(spec, LoadedSpec) else self.jobs.load(spec)
        if not trials:
            raise ValidationError("A sweep needs at least one trial.", hint="Pass --grid key=v1,v2 or --random N.")
        zone = Zone(loaded.spec.zone)
        quota = self.jobs.quota(zone)
        if len(trials) > quota.max_sweep_trials:
            raise BudgetExceeded(
                f"{len(trials)} trials exceed the {zone} quota of {quota.max_sweep_trials} per sweep.",
                hint=f"Sweep fewer values, or raise jobs.quotas.{zone}.max_sweep_trials.",
            )
        for overrides in trials:
            loaded.spec.with_params(overrides)  # every trial's params checked before any runs
        sweep_id = uuid.uuid4().hex
        result = SweepResult(
            sweep_id=sweep_id,
            spec=str(loaded.path),
            metric=metric,
            maximize=maximize,
            trials=[Trial(index=i, params=dict(t)) for i, t in enumerate(trials)],
        )
        workers = max(1, min(parallel, quota.max_concurrent_jobs))
        lock = threading.Lock()

        def one(trial: Trial) -> None:
            try:
                job = self.jobs.run(loaded, trial.params, allow_dirty=allow_dirty, executor=executor, sweep_id=sweep_id)
            except LeanopsError as exc:
                trial.status, trial.reason = "refused", exc.message
            else:
                trial.job_id, trial.run_id, trial.status, trial.reason = job.id, job.run_id, str(job.status), job.reason
                trial.metrics = self._metrics(job.metrics, job.run_id)
                trial.wall_seconds = sum(a.metering.wall_seconds for a in job.attempt_records)
            if on_trial is not None:
                with lock:
                    on_trial(trial)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"leanops-sweep-{sweep_id[:6]}") as pool:
            list(pool.map(one, result.trials))
        return result

    def _metrics(self, returned: dict[str, float], run_id: str | None) -> dict[str, float]:
        """What the entrypoint returned, plus the latest value of anything it logged to its run."""
        runs: Any = self.jobs.run_service()
        if run_id is None or runs is None:
            return dict(returned)
        try:
            logged = runs.get(run_id).metrics
        except LeanopsError:
            logged = {}
        return {**logged, **returned}
