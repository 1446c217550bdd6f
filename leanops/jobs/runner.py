"""Running one planned job to its end: attempts, deadline, retries, teardown, metering.

The runner is the process that called `ws.jobs.run` (the CLI, a notebook, a sweep thread).
It owns the job's lifetime: every path out of here — success, failure, timeout, cancel,
Ctrl-C, an exception in leanops itself — removes the attempt's scratch folder, and the job's
folder (with its checkpoints) when the job ends.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential, wait_random

from leanops.artifacts import ArtifactRef
from leanops.jobs.models import AttemptRecord, ExitInfo, JobRecord, JobStatus, Launch, Metering
from leanops.jobs.retry import Cause, classify, describe
from leanops.jobs.scratch import AttemptDirs, read_outcome
from leanops.jobs.secrets import Redactor
from leanops.jobs.spec import JobSpec
from leanops.ports import ExecutionHandle, Executor, Unit

if TYPE_CHECKING:
    from leanops.jobs.service import JobService

STATUS_OF = {
    Cause.SUCCEEDED: JobStatus.SUCCEEDED,
    Cause.TIMED_OUT: JobStatus.TIMED_OUT,
    Cause.CANCELLED: JobStatus.CANCELLED,
    Cause.TRANSIENT: JobStatus.FAILED,
    Cause.FAILED: JobStatus.FAILED,
}
RUN_OUTCOME = {JobStatus.SUCCEEDED: "ok", JobStatus.FAILED: "failed"}


class Cancelled(Exception):
    """Raised out of a backoff sleep when the job is cancelled between attempts."""


@dataclass
class Plan:
    """A job that passed every check and is recorded, ready to run."""

    job: JobRecord
    spec: JobSpec
    root: Path
    executor: Executor
    secrets: dict[str, str]
    submitted_at: float  # epoch seconds
    redactor: Redactor = field(default_factory=Redactor)
    token: str | None = None  # the job's own short-lived, zone-limited token
    token_id: str | None = None


@dataclass
class AttemptResult:
    n: int
    cause: Cause
    exit: ExitInfo
    note: str = ""


@dataclass
class _Clock:
    deadline: float  # monotonic
    warn_at: float
    warned: bool = False


class JobRunner:
    """Runs one plan; built by `JobService.execute`."""

    def __init__(self, service: JobService, plan: Plan, run: Any) -> None:
        self.service = service
        self.plan = plan
        self.job = plan.job
        self.spec = plan.spec
        self.run = run
        self.settings = service.settings
        self.cancel = service.cancel_event(plan.job.id)
        self.grace = self.spec.grace if self.spec.grace is not None else self.settings.grace_seconds
        self.poll = self.settings.poll_seconds
        self.count = 0

    # -- the retry loop ---------------------------------------------------------------------

    def attempts(self) -> AttemptResult:
        start = time.monotonic()
        fraction = self.spec.warn_fraction or self.settings.warn_fraction
        clock = _Clock(deadline=start + self.spec.deadline, warn_at=start + fraction * self.spec.deadline)
        backoff = self.spec.retry.backoff

        def no_time_left(state: Any) -> bool:
            return time.monotonic() + (state.upcoming_sleep or 0.0) >= clock.deadline

        retrying = Retrying(
            stop=stop_after_attempt(self.spec.retry.max_attempts) | no_time_left,
            wait=wait_exponential(multiplier=backoff.initial, exp_base=backoff.multiplier, max=backoff.max)
            + wait_random(0, backoff.jitter),
            retry=retry_if_result(lambda r: r.cause is Cause.TRANSIENT),
            sleep=self._sleep,
            before_sleep=lambda state: self.service.event(
                self.job, "retry", attempt=state.attempt_number, wait=round(state.upcoming_sleep, 2)
            ),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        try:
            return retrying(self._attempt, clock)
        except Cancelled:
            return AttemptResult(
                self.count, Cause.CANCELLED, ExitInfo(stopped_for="cancel"), "cancelled between attempts"
            )

    def _sleep(self, seconds: float) -> None:
        """Backoff between attempts, cut short by a cancel request."""
        end = time.monotonic() + seconds
        try:
            while (left := end - time.monotonic()) > 0:
                if self.cancel.wait(min(left, self.poll)) or self.service.cancel_requested(self.job.id):
                    raise Cancelled
        except KeyboardInterrupt:
            raise Cancelled from None

    # -- one attempt ------------------------------------------------------------------------

    def _attempt(self, clock: _Clock) -> AttemptResult:
        self.count += 1
        n = self.count
        if time.monotonic() >= clock.deadline:
            return AttemptResult(
                n - 1, Cause.TIMED_OUT, ExitInfo(stopped_for="deadline"), "deadline passed before the attempt"
            )
        service, job = self.service, self.job
        dirs = service.scratch.attempt(job.id, n)
        record = AttemptRecord(job_id=job.id, n=n, started_at=service.clock.now(), host=socket.gethostname())
        exit = ExitInfo(error="the runner stopped before the attempt ended")
        refs: list[ArtifactRef] = []
        try:
            launch = self._launch(n, dirs)
            handle = self.plan.executor.submit(launch)
            try:
                # Recorded while the process starts: the record is off the submit → start path.
                service.scratch.note_process(dirs, getattr(handle, "pid", None))
                service.record(job, "attempt", {"n": n}, lambda unit: unit.jobs.add_attempt(record))
            except BaseException:
                exit = handle.terminate(0.0)
                raise
            service.event(job, "attempt", attempt=n)
            exit = self._watch(handle, clock)
            self._merge_outcome(exit, dirs, launch)
            refs = self._keep(n, dirs)
        finally:
            # Teardown happens on every path out, including Ctrl-C and leanops' own errors.
            service.scratch.remove_attempt(dirs)
            cause = classify(exit, self.spec.retry)
            self._close(record, exit, cause, refs)
        service.event(job, "attempt_end", attempt=n, cause=str(cause), detail=describe(exit))
        return AttemptResult(n, cause, exit)

    def _launch(self, n: int, dirs: AttemptDirs) -> Launch:
        spec, job = self.spec, self.job
        params = dict(spec.params) | ({"seed": spec.seed} if spec.seed is not None else {})
        argv = [str(spec.entrypoint).strip()] if spec.is_callable else spec.command(spec.params)
        env = self.service.child_environment(self.plan)
        env.update(
            {
                "LEANOPS_JOB_ID": job.id,
                "LEANOPS_JOB_NAME": job.name,
                "LEANOPS_ATTEMPT": str(n),
                "LEANOPS_PARAMS": json.dumps(params),
                "LEANOPS_DATASETS": json.dumps(job.datasets),
                "LEANOPS_OUTCOME": str(dirs.outcome),
                "LEANOPS_SCRATCH_DIR": str(dirs.root),
                "LEANOPS_OUTPUT_DIR": str(dirs.outputs),
                "LEANOPS_CHECKPOINT_DIR": str(self.service.scratch.checkpoint(job.id)),
                "LEANOPS_DEADLINE_AT": str(self.plan.submitted_at + spec.deadline),
                "LEANOPS_PROJECT_ROOT": str(self.plan.root),
                "LEANOPS_ZONE": job.zone,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(self.plan.root), env.get("PYTHONPATH", "")) if p),
            }
        )
        if self.run is not None:
            env["LEANOPS_RUN_ID"] = self.run.id
        if spec.seed is not None:
            env |= {"LEANOPS_SEED": str(spec.seed), "PYTHONHASHSEED": str(spec.seed % 4294967296)}
        env |= self.plan.secrets
        return Launch(
            job_id=job.id,
            attempt=n,
            argv=argv,
            env=env,
            cwd=str(self.plan.root),
            scratch_dir=str(dirs.root),
            log_path=str(dirs.log),
            outcome_path=str(dirs.outcome),
            bootstrap=spec.is_callable,
            cpu=spec.resources.cpu,
            memory=spec.resources.memory,
            gpu=spec.resources.gpu,
            submitted_at=time.time(),
            mask=tuple(self.plan.redactor.values),
        )

    def _watch(self, handle: ExecutionHandle, clock: _Clock) -> ExitInfo:
        """Wait for the end, enforcing the deadline, the warning and cancel requests."""
        next_check = time.monotonic() + self.poll
        try:
            while True:
                now = time.monotonic()
                wake = min(clock.deadline, next_check, math.inf if clock.warned else clock.warn_at)
                exit = handle.wait(max(0.0, wake - now))
                if exit is not None:
                    return exit
                now = time.monotonic()
                if now >= clock.deadline:
                    return self._stop(handle, "deadline")
                if not clock.warned and now >= clock.warn_at:
                    clock.warned = True
                    self.service.warn(self.job, self.spec, now - (clock.deadline - self.spec.deadline))
                if self.cancel.is_set():
                    return self._stop(handle, "cancel")
                if now >= next_check:
                    next_check = now + self.poll
                    if self.service.cancel_requested(self.job.id):
                        return self._stop(handle, "cancel")
        except KeyboardInterrupt:
            return self._stop(handle, "cancel")
        except BaseException:
            handle.terminate(self.grace)
            raise

    def _stop(self, handle: ExecutionHandle, why: str) -> ExitInfo:
        self.service.event(self.job, "stopping", reason=why, grace=self.grace)
        exit = handle.terminate(self.grace)
        exit.stopped_for = why  # type: ignore[assignment]
        return exit

    def _merge_outcome(self, exit: ExitInfo, dirs: AttemptDirs, launch: Launch) -> None:
        """What a python entrypoint reported about itself: its exception, or its returned numbers."""
        outcome = read_outcome(dirs.outcome)
        redact = self.plan.redactor.text
        if outcome.get("exception") and exit.stopped_for is None:
            exit.exception = str(outcome["exception"])
            exit.exception_bases = [str(b) for b in outcome.get("exception_bases") or []]  # type: ignore[union-attr]
            exit.message = redact(str(outcome.get("message") or ""))
        metrics = outcome.get("metrics")
        if isinstance(metrics, dict):
            exit.metrics = {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        peak = outcome.get("peak_rss_bytes")
        if isinstance(peak, int):
            exit.peak_rss_bytes = max(exit.peak_rss_bytes, peak)
        started = outcome.get("started_at")
        if isinstance(started, int | float):
            exit.started_at = float(started)
            exit.start_latency = float(started) - launch.submitted_at

    def _keep(self, n: int, dirs: AttemptDirs) -> list[ArtifactRef]:
        """Store the attempt's log and outputs as scratch artifacts that expire after the TTL."""
        service = self.service
        ttl = self.spec.scratch_ttl or self.settings.scratch_ttl
        now = service.clock.now()
        files = [(f"attempt-{n}/log", dirs.log)] if dirs.log.is_file() and dirs.log.stat().st_size else []
        files += [
            (f"attempt-{n}/outputs/{p.relative_to(dirs.outputs).as_posix()}", p)
            for p in sorted(dirs.outputs.rglob("*"))
            if p.is_file()
        ]
        refs = []
        for name, path in files:
            digest = service.artifacts.put_file(path)
            refs.append(
                ArtifactRef(
                    digest=digest,
                    owner_kind="job",
                    owner_id=self.job.id,
                    name=name,
                    size=path.stat().st_size,
                    zone=self.job.zone,
                    created_at=now,
                    created_by=service._guard.actor.name,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        return refs

    def _close(self, record: AttemptRecord, exit: ExitInfo, cause: Cause, refs: list[ArtifactRef]) -> None:
        record.status = str(cause)
        record.cause = describe(exit)
        record.exit_code, record.signal, record.exception = exit.returncode, exit.signal, exit.exception
        record.ended_at = self.service.clock.now()
        record.start_latency_seconds = exit.start_latency
        record.metering = Metering(
            wall_seconds=exit.wall_seconds, cpu_seconds=exit.cpu_seconds, peak_rss_bytes=exit.peak_rss_bytes
        )
        record.host = exit.host or record.host
        log = next((r for r in refs if r.name.endswith("/log")), None)
        if log:
            record.log_digest, record.log_size = log.digest, log.size
        self.job.attempt_records.append(record)

        def write(unit: Unit) -> None:
            unit.jobs.save_attempt(record)
            for ref in refs:
                unit.refs.add(ref)

        details = {"n": record.n, "cause": str(cause), "detail": record.cause, **record.metering.model_dump()}
        self.service.record(self.job, "attempt_end", details, write)
        self.service.meter(self.job, record)
