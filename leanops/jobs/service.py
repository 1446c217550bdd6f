"""JobService (`ws.jobs`): checking, recording, running, reading and cancelling training jobs.

    job = ws.jobs.run("jobs/train.yaml", ["lr=0.01"])     # blocks until the job ends
    job.status, job.run_id, job.attempt_records[-1].metering

Every job write goes through the guard (`job.run`, `job.cancel`), every read too (`job.read`).
`planning` checks and records a job, `execution` runs it to its end, `housekeeping` closes the
jobs of dead runners and reads logs; this class holds what they share and the public calls.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from leanops.artifacts import ArtifactRef
from leanops.config import JobSettings, ZoneQuota
from leanops.errors import Conflict, NotFound, ValidationError
from leanops.events import AttemptEnded, CeilingReached, EventBus
from leanops.guard import Guard
from leanops.jobs.execution import Execution
from leanops.jobs.gc import GcReport, collect
from leanops.jobs.housekeeping import Housekeeping
from leanops.jobs.models import AttemptRecord, JobRecord, JobStatus
from leanops.jobs.planning import Planner
from leanops.jobs.runner import Plan
from leanops.jobs.scratch import Scratch
from leanops.jobs.spec import JobSpec, LoadedSpec, load_spec
from leanops.policy import Resource
from leanops.ports import ArtifactStore, Clock, Executor, Notifier, Unit
from leanops.process import pid_alive
from leanops.zones import Zone, ZoneRules

EventSink = Callable[[JobRecord, str, dict[str, Any]], None]


class JobService:
    """Training jobs of one project, acting as the guard's actor."""

    def __init__(
        self,
        guard: Guard,
        executors: Callable[[str], Executor],
        notifier: Notifier,
        settings: JobSettings | None = None,
        *,
        root: Path,
        artifacts: ArtifactStore,
        runs: Callable[[], Any] | None = None,
        datasets: Callable[[], Any] | None = None,
        zone_rules: Mapping[Zone, ZoneRules] | None = None,
        on_event: EventSink | None = None,
        bus: EventBus | None = None,
        stores: Mapping[str, str] | None = None,
    ) -> None:
        self._guard = guard
        self.stores = dict(stores or {})  # LEANOPS_* store locations a job's process needs
        self.clock: Clock = guard.clock
        self.executors = executors
        self.notifier = notifier
        self.settings = settings or JobSettings()
        self.root = Path(root)
        self.artifacts = artifacts
        self._runs = runs or (lambda: None)
        self._datasets = datasets or (lambda: None)
        self.zone_rules = dict(zone_rules or {})
        self.bus = bus or EventBus()  # cost hears admissions and ended attempts on it
        self.on_event = on_event
        scratch = Path(self.settings.scratch_root).expanduser()
        self.scratch = Scratch(scratch if scratch.is_absolute() else self.root / scratch)
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._planner = Planner(self)
        self._execution = Execution(self)
        self._housekeeping = Housekeeping(self)

    # -- running ------------------------------------------------------------------------------

    def load(self, path: str | Path) -> LoadedSpec:
        """A validated spec (`ValidationError` with file, line and key)."""
        path = Path(path)
        return load_spec(path if path.is_absolute() else Path.cwd() / path, self.root)

    def run(
        self,
        spec: str | Path | LoadedSpec,
        params: Sequence[str] | Mapping[str, Any] = (),
        *,
        allow_dirty: bool = False,
        executor: str | None = None,
        sweep_id: str | None = None,
    ) -> JobRecord:
        """Check, record and run a job to its end; return its final record.

        ws.jobs.run("jobs/train.yaml", ["lr=0.01"])
        """
        return self.execute(self.plan(spec, params, allow_dirty=allow_dirty, executor=executor, sweep_id=sweep_id))

    def plan(
        self,
        spec: str | Path | LoadedSpec,
        params: Sequence[str] | Mapping[str, Any] = (),
        *,
        allow_dirty: bool = False,
        executor: str | None = None,
        sweep_id: str | None = None,
    ) -> Plan:
        """Every check a job must pass, then its `queued` record; nothing runs yet."""
        return self._planner.plan(spec, params, allow_dirty=allow_dirty, executor=executor, sweep_id=sweep_id)

    def execute(self, plan: Plan) -> JobRecord:
        """Run a planned job to its end; teardown happens whatever way it ends."""
        return self._execution.execute(plan)

    # -- alerts ---------------------------------------------------------------------------------

    def warn(self, job: JobRecord, spec: JobSpec, elapsed: float) -> None:
        """Past the warning share of its deadline: tell the owner while there is time to act."""
        self._execution.warn(job, spec, elapsed)

    def notify(self, job: JobRecord, severity: str, subject: str, body: str) -> None:
        self.notifier.send(
            subject,
            body,
            severity=severity,
            owner=job.owner,
            job_id=job.id,
            job=job.name,
            zone=job.zone,
            status=str(job.status),
        )
        self.event(job, "notify", severity=severity, subject=subject)

    def event(self, job: JobRecord, kind: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(job, kind, data)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        """A job with its attempts (`NotFound`); a unique prefix of the id will do."""
        with self._guard.act("job.read", Resource(type="Job", id=job_id)) as unit:
            return self._get(unit, job_id)

    def _get(self, unit: Unit, job_id: str) -> JobRecord:
        job = unit.jobs.get(job_id)
        if job is None and len(job_id) >= 4:
            matches = unit.jobs.ids_with_prefix(job_id)
            if len(matches) > 1:
                raise ValidationError(f"{job_id!r} matches several jobs.", hint="Give more characters of the id.")
            job = unit.jobs.get(matches[0]) if matches else None
        if job is None:
            raise NotFound(f"No job {job_id!r}.", hint="`leanops jobs list` shows the jobs.")
        return job

    def list(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        name: str | None = None,
        sweep_id: str | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        """Newest first."""
        if status is not None and status not in set(JobStatus):
            raise ValidationError(f"Unknown status {status!r}.", hint=f"Use one of {', '.join(JobStatus)}.")
        details = {"op": "list", **{k: v for k, v in {"status": status, "owner": owner, "name": name}.items() if v}}
        with self._guard.act("job.read", Resource(type="Job", id="*"), details=details) as unit:
            return unit.jobs.list(status=status, owner=owner, name=name, sweep_id=sweep_id, limit=limit)

    def logs(self, job_id: str, attempt: int | None = None) -> str:
        """An attempt's output (the last one by default): live while it runs, stored after."""
        return self._housekeeping.logs(job_id, attempt)

    def artifacts_of(self, job_id: str) -> list[ArtifactRef]:
        """The job's scratch artifacts (attempt logs and outputs) with their expiry times."""
        job = self.get(job_id)
        with self._guard.act("job.read", Resource(type="Job", id=job.id), details={"op": "artifacts"}) as unit:
            return unit.refs.for_owner("job", job.id)

    # -- cancelling -----------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobRecord:
        """Ask a running job to stop (SIGTERM, grace, SIGKILL); its runner records `cancelled`."""
        job = self.get(job_id)
        if job.status.done:
            raise Conflict(f"Job {job.id[:12]} has already ended ({job.status}).")
        now = self.clock.now()
        orphan = job.runner_host == socket.gethostname() and job.runner_pid and not pid_alive(job.runner_pid)

        def write(unit: Unit) -> None:
            unit.jobs.request_cancel(job.id, now)
            if orphan:
                unit.jobs.update(job.id, status=JobStatus.CANCELLED, ended_at=now, reason="cancelled")

        with self._guard.act(
            "job.cancel", self.resource(job), zone=Zone(job.zone), context=self._context(job), details={"op": "cancel"}
        ) as unit:
            write(unit)
        with self._lock:
            event = self._cancels.get(job.id)
        if event is not None:
            event.set()
        return self.get(job.id)

    def cancel_event(self, job_id: str) -> threading.Event:
        with self._lock:
            return self._cancels.setdefault(job_id, threading.Event())

    def cancel_requested(self, job_id: str) -> bool:
        # The runner's own poll of its job's state: plumbing, not an actor's read, so unaudited
        # (an audit record every half second would drown the log).
        with self._guard.lookup() as unit:
            return bool(unit.jobs.cancel_requested(job_id))

    # -- housekeeping ---------------------------------------------------------------------------

    def reap(self) -> list[str]:
        """Close the jobs of runners that died on this host and remove what they left behind."""
        return self._housekeeping.reap()

    def sweep(self, spec: str | Path | LoadedSpec, trials: Sequence[Mapping[str, str]], **options: Any) -> Any:
        """Run one trial job per param set, at most `parallel` at once: see `leanops.jobs.sweep`."""
        from leanops.jobs.sweep import Sweeper

        return Sweeper(self).run(spec, trials, **options)

    def meter(self, job: JobRecord, attempt: AttemptRecord) -> None:
        """Publish an ended attempt's metering; the cost ledger charges it, if the workspace keeps one."""
        self.bus.publish(AttemptEnded(job, attempt))

    def on_ceiling_reached(self, event: CeilingReached) -> None:
        """Stop a job whose hard-ceiling budget is spent (`Conflict` if it ended meanwhile)."""
        self.cancel(event.job_id)

    def run_service(self) -> Any:
        """The tracked-runs service jobs record into, if the workspace has one."""
        return self._runs()

    def gc(self, *, apply: bool = False) -> GcReport:
        """Expired scratch artifacts and abandoned scratch folders: listed (dry run) or removed."""
        return collect(self, apply=apply)

    # -- helpers --------------------------------------------------------------------------------

    def record(self, job: JobRecord, op: str, details: dict[str, Any], write: Callable[[Unit], None]) -> None:
        """One audited write to a job's records."""
        with self._guard.act(
            "job.run",
            self.resource(job),
            zone=Zone(job.zone),
            context=self._context(job),
            details={"op": op, "job": job.name, **details},
        ) as unit:
            write(unit)

    def quota(self, zone: Zone) -> ZoneQuota:
        return self.settings.quotas.get(zone) or ZoneQuota()

    def child_environment(self, plan: Plan) -> dict[str, str]:
        """An attempt's environment: an allow-list, with the job's own token instead of any name."""
        return self._execution.child_environment(plan)

    @staticmethod
    def resource(job: JobRecord) -> Resource:
        return Resource(type="Job", id=job.id, owner=job.owner, attrs={"zone": job.zone, "data_class": job.data_class})

    def _context(self, job: JobRecord) -> dict[str, Any]:
        rules = self.zone_rules.get(Zone(job.zone))
        return {"data_class": job.data_class, "tagged": not (rules and rules.missing_tags(job.tags))}
