"""Executing a planned job: its token, its tracked run, its attempts, and a teardown that
happens whatever way it ends, with the alerts its owner must see.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from leanops.jobs.models import ExitInfo, JobRecord, JobStatus
from leanops.jobs.retry import Cause, describe
from leanops.jobs.runner import RUN_OUTCOME, STATUS_OF, AttemptResult, JobRunner, Plan
from leanops.jobs.spec import JobSpec, human_duration
from leanops.process import allowed_environment
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.jobs.service import JobService

JOB_TOKEN_MARGIN_SECONDS = 300  # the runner's own bookkeeping after the deadline


class Execution:
    """Runs `ws.jobs` plans to their end."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    def execute(self, plan: Plan) -> JobRecord:
        job = plan.job
        self.jobs.scratch.claim(job.id)
        run = None
        result = AttemptResult(0, Cause.FAILED, ExitInfo(error="the job did not start"))
        note = ""
        try:
            self._issue_token(plan)
            run = self._start_run(plan)
            now = self.jobs.clock.now()
            updates = {
                "status": JobStatus.RUNNING,
                "started_at": now,
                "run_id": run.id if run else None,
                "deadline_at": now + timedelta(seconds=plan.spec.deadline),
                "runner_host": socket.gethostname(),
                "runner_pid": os.getpid(),
            }
            self.jobs.record(
                job, "start", {"run_id": updates["run_id"]}, lambda unit: unit.jobs.update(job.id, **updates)
            )
            for key, value in updates.items():
                setattr(job, key, value)
            self.jobs.event(job, "start", run_id=job.run_id)
            result = JobRunner(self.jobs, plan, run).attempts()
        except BaseException as exc:
            note = f"{type(exc).__name__}: {plan.redactor.text(str(exc))}"
            raise
        finally:
            self.jobs.scratch.release(job.id)
            with self.jobs._lock:
                self.jobs._cancels.pop(job.id, None)
            try:
                self._finish(plan, run, result, note)
            except Exception:
                if not note:
                    raise  # otherwise the error already on its way out is the one to report
            finally:
                self._withdraw_token(plan)
        return job

    def _start_run(self, plan: Plan) -> Any:
        """The job's tracked run, created here in the runner; the entrypoint attaches to it."""
        runs = self.jobs._runs()
        if runs is None:
            return None
        spec, job = plan.spec, plan.job
        params = dict(spec.params) | ({"seed": spec.seed} if spec.seed is not None else {})
        tags = {
            **job.tags,
            "leanops.job_id": job.id,
            "leanops.job": job.name,
            "leanops.spec": job.spec_path,
            "leanops.spec_commit": job.spec_commit or "",
            "leanops.promotable": str(job.promotable).lower(),
        }
        return runs.start(
            spec.description or f"job {spec.name}",
            datasets=spec.datasets,
            features=spec.features,
            params=params,
            tags=tags,
            zone=spec.zone,
            code_dir=plan.root,
        )

    def _finish(self, plan: Plan, run: Any, result: AttemptResult, note: str) -> None:
        job, spec = plan.job, plan.spec
        status = STATUS_OF[result.cause] if not note else JobStatus.FAILED
        if result.cause is Cause.CANCELLED:
            status = JobStatus.CANCELLED
        reason = note or result.note or describe(result.exit)
        if status is JobStatus.FAILED and result.cause is Cause.TRANSIENT:
            reason = f"{reason}; gave up after {result.n} attempt(s)"
        job.status, job.reason, job.ended_at = status, reason, self.jobs.clock.now()
        job.attempts = len(job.attempt_records)
        job.metrics = dict(result.exit.metrics) if status is JobStatus.SUCCEEDED else {}
        if run is not None:
            try:
                if job.metrics:
                    run.log_metrics(job.metrics)
                run.set_tags({"leanops.job_status": str(status)})
                run.end(RUN_OUTCOME.get(status, "killed"))  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - the job's record must still be written
                job.reason += f" (closing run {run.id} failed: {exc})"
        values = {
            "status": job.status,
            "reason": job.reason,
            "ended_at": job.ended_at,
            "attempts": job.attempts,
            "metrics": job.metrics,
        }
        self.jobs.record(
            job,
            "end",
            {"status": str(status), "attempts": job.attempts, "reason": reason},
            lambda unit: unit.jobs.update(job.id, **values),
        )
        self.jobs.event(job, "end", status=str(status), reason=reason)
        self._alert(job, spec, result)

    def _alert(self, job: JobRecord, spec: JobSpec, result: AttemptResult) -> None:
        if job.status is JobStatus.TIMED_OUT:
            self.jobs.notify(
                job,
                "error",
                f"Job {job.name} timed out",
                f"Job {job.id[:12]} passed its deadline of {human_duration(spec.deadline)} and was stopped "
                f"after {job.attempts} attempt(s); its scratch space was removed.",
            )
        elif job.status is JobStatus.FAILED and result.cause is Cause.TRANSIENT:
            self.jobs.notify(
                job,
                "error",
                f"Job {job.name} gave up",
                f"Job {job.id[:12]} failed {job.attempts} time(s) with transient errors; retries are exhausted. "
                f"Last: {job.reason}",
            )

    def warn(self, job: JobRecord, spec: JobSpec, elapsed: float) -> None:
        self.jobs.notify(
            job,
            "warning",
            f"Job {job.name} is running long",
            f"Job {job.id[:12]} has run {human_duration(elapsed)} of its {human_duration(spec.deadline)} deadline.",
        )
        now = self.jobs.clock.now()
        job.warned_at = now
        self.jobs.record(
            job, "warn", {"elapsed_seconds": round(elapsed, 3)}, lambda unit: unit.jobs.update(job.id, warned_at=now)
        )

    def child_environment(self, plan: Plan) -> dict[str, str]:
        leanops = {**self.jobs.stores, "LEANOPS_TOKEN": plan.token} if plan.token else dict(self.jobs.stores)
        return allowed_environment(
            os.environ,
            leanops=leanops,
            spec_env=plan.spec.env,
            passthrough=plan.spec.env_passthrough,
        )

    def _issue_token(self, plan: Plan) -> None:
        """A token for the submitter, valid only in the job's zone and only until its deadline."""
        from leanops.users import UserService

        spec = plan.spec
        grace = spec.grace if spec.grace is not None else self.jobs.settings.grace_seconds
        ttl = timedelta(seconds=spec.deadline + grace + JOB_TOKEN_MARGIN_SECONDS)
        issued = UserService(self.jobs._guard).create_token(
            ttl=ttl, description=f"job {plan.job.id} ({plan.job.name})", zones=[Zone(plan.job.zone)]
        )
        plan.token, plan.token_id = issued.plaintext, issued.record.id

    def _withdraw_token(self, plan: Plan) -> None:
        if plan.token_id:
            from leanops.users import UserService

            UserService(self.jobs._guard).revoke_token(plan.token_id)
            plan.token = plan.token_id = None
