"""Job and attempt records, and what crosses the executor port (a launch and its exit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOST = "lost"  # its runner died; found and closed by the next start or `leanops gc`

    @property
    def done(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class Metering(BaseModel):
    """What one attempt consumed: the input to the cost ledger."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_bytes: int = 0


class AttemptRecord(BaseModel):
    job_id: str
    n: int = Field(description="1-based attempt number")
    status: str = "running"  # running | succeeded | transient | failed | timed_out | cancelled
    cause: str = ""
    exit_code: int | None = None
    signal: int | None = None
    exception: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    start_latency_seconds: float | None = Field(None, description="Submit → entrypoint running")
    metering: Metering = Field(default_factory=Metering)
    log_digest: str | None = None
    log_size: int = 0
    host: str = ""


class JobRecord(BaseModel):
    """A job as stored: its resolved spec, where it came from, its state and its run."""

    id: str
    name: str
    owner: str
    submitted_by: str
    zone: str
    executor: str
    status: JobStatus = JobStatus.QUEUED
    spec: dict[str, Any] = Field(description="The resolved spec, params overrides applied")
    params: dict[str, Any] = Field(default_factory=dict)
    spec_path: str = ""
    spec_commit: str | None = None
    code_commit: str | None = None
    code_dirty: bool | None = None
    promotable: bool = True
    run_id: str | None = None
    sweep_id: str | None = None
    datasets: list[str] = Field(default_factory=list)
    data_class: str = "none"
    tags: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    deadline_seconds: float
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    deadline_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    warned_at: datetime | None = None
    attempts: int = 0
    reason: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    runner_host: str = ""
    runner_pid: int | None = None
    attempt_records: list[AttemptRecord] = Field(default_factory=list)


# -- the executor port's payloads -------------------------------------------------------------


class JobRepo(Protocol):
    """Where job records and their attempts live (`unit.jobs`)."""

    def add(self, job: JobRecord) -> None: ...
    def get(self, job_id: str) -> JobRecord | None: ...
    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]: ...
    def list(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        name: str | None = None,
        sweep_id: str | None = None,
        limit: int = 50,
    ) -> list[JobRecord]: ...
    def active(self) -> list[JobRecord]: ...
    def count_active(self, zone: str) -> int: ...
    def update(self, job_id: str, **values: Any) -> None: ...
    def request_cancel(self, job_id: str, at: datetime) -> None: ...
    def cancel_requested(self, job_id: str) -> bool: ...
    def add_attempt(self, attempt: AttemptRecord) -> None: ...
    def save_attempt(self, attempt: AttemptRecord) -> None: ...


@dataclass(frozen=True)
class Launch:
    """One attempt as an executor sees it: what to run, where, and with which environment.

    `bootstrap` entrypoints (`module:function`) are run by the executor's own interpreter via
    `leanops/jobs/bootstrap.py`, so a remote worker uses its python, not the submitter's path.
    """

    job_id: str
    attempt: int
    argv: list[str]
    env: dict[str, str]
    cwd: str
    scratch_dir: str
    log_path: str
    outcome_path: str
    bootstrap: bool = False
    cpu: float = 1.0
    memory: int = 0
    gpu: int = 0
    submitted_at: float = 0.0  # epoch seconds, for submit → start latency
    mask: tuple[str, ...] = ()  # secret values the executor masks in the log as it is written


@dataclass
class ExitInfo:
    """How an attempt ended, measured by the executor."""

    returncode: int | None = None
    signal: int | None = None
    stopped_for: Literal["deadline", "cancel"] | None = None
    exception: str | None = None
    exception_bases: list[str] = field(default_factory=list)
    message: str = ""
    error: str = ""  # the executor's own failure (could not start, worker died)
    lost: bool = False  # the worker running it went away (counts as transient)
    metrics: dict[str, float] = field(default_factory=dict)
    started_at: float | None = None  # epoch seconds the entrypoint began (python entrypoints)
    start_latency: float | None = None  # submit to the executor → entrypoint running
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_bytes: int = 0
    host: str = ""
