"""Housekeeping: closing the jobs of runners that died, and reading an attempt's log, live
from scratch while it runs, stored after.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from leanops.errors import NotFound, PolicyDenied
from leanops.jobs.models import AttemptRecord, JobStatus
from leanops.process import pid_alive

if TYPE_CHECKING:
    from leanops.jobs.service import JobService


class Housekeeping:
    """What `ws.jobs` runners leave behind: dead runners' jobs and attempt logs."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    def reap(self) -> list[str]:
        host = socket.gethostname()
        closed: list[str] = []
        for job_id, folder in self.jobs.scratch.abandoned():
            self.jobs.scratch.kill_leftovers(folder, job_id)
            self.jobs.scratch.release(job_id)
            closed.append(job_id)
        with self.jobs._guard.lookup() as unit:
            dead = [
                j for j in unit.jobs.active() if j.runner_host == host and j.runner_pid and not pid_alive(j.runner_pid)
            ]
        for job in dead:
            try:
                self.jobs.record(
                    job,
                    "lost",
                    {"runner_pid": job.runner_pid},
                    lambda unit, j=job: unit.jobs.update(
                        j.id,
                        status=JobStatus.LOST,
                        ended_at=self.jobs.clock.now(),
                        reason=f"its runner (pid {j.runner_pid}) died",
                    ),
                )
            except PolicyDenied:
                continue  # someone else's job, in a zone this actor may not write; they will see it
            closed.append(job.id)
        return sorted(set(closed))

    def logs(self, job_id: str, attempt: int | None = None) -> str:
        job = self.jobs.get(job_id)
        if not job.attempt_records:
            return ""
        record = _pick_attempt(job.attempt_records, attempt)
        live = self.jobs.scratch.job_dir(job.id) / f"attempt-{record.n}" / "attempt.log"
        if record.status == "running" and live.is_file():
            return live.read_text(encoding="utf-8", errors="replace")
        if record.log_digest is None:
            return ""
        if not self.jobs.artifacts.exists(record.log_digest):
            raise NotFound(f"The log of job {job.id[:12]} attempt {record.n} has expired and was collected.")
        return self.jobs.artifacts.get_bytes(record.log_digest).decode("utf-8", errors="replace")


def _pick_attempt(records: list[AttemptRecord], n: int | None) -> AttemptRecord:
    if n is None:
        return records[-1]
    for record in records:
        if record.n == n:
            return record
    raise NotFound(f"No attempt {n}; the job made {len(records)}.")
