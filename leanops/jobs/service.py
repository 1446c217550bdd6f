"""JobService: checking, recording, running, reading and cancelling training jobs.

    job = ws.jobs.run("jobs/train.yaml", ["lr=0.01"])     # blocks until the job ends
    job.status, job.run_id, job.attempt_records[-1].metering

Every job write goes through the guard (`job.run`, `job.cancel`), every read too (`job.read`).
Before anything runs, the spec must pass: a known entrypoint and datasets, a deadline within
the zone's quota, a free slot under the zone's concurrency quota, the secrets it names, and
— in staging and production — a clean, committed working tree.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from leanops.artifacts import ArtifactRef
from leanops.config import JobSettings, ZoneQuota
from leanops.errors import BudgetExceeded, Conflict, NotFound, PolicyDenied, ValidationError
from leanops.events import AttemptEnded, CeilingReached, EventBus, JobAdmitting
from leanops.guard import Guard
from leanops.jobs.gc import GcReport, collect
from leanops.jobs.models import AttemptRecord, ExitInfo, JobRecord, JobStatus
from leanops.jobs.retry import Cause, describe
from leanops.jobs.runner import RUN_OUTCOME, STATUS_OF, AttemptResult, JobRunner, Plan
from leanops.jobs.scratch import Scratch
from leanops.jobs.secrets import Redactor, resolve_secrets
from leanops.jobs.source import probe_source
from leanops.jobs.spec import JobSpec, LoadedSpec, load_spec, locate_entrypoint
from leanops.policy import Resource
from leanops.ports import ArtifactStore, Clock, Executor, Notifier
from leanops.process import allowed_environment, pid_alive
from leanops.zones import Zone, ZoneRules

# Least to most sensitive; a job carries the highest class of its datasets.
DATA_CLASSES = ("none", "public", "internal", "confidential", "sensitive")
JOB_TOKEN_MARGIN_SECONDS = 300  # the runner's own bookkeeping after the deadline

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
        submitted = time.time()
        loaded = spec if isinstance(spec, LoadedSpec) else self.load(spec)
        job_spec = loaded.spec.with_params(params)
        zone = Zone(job_spec.zone)
        quota = self.quota(zone)
        if job_spec.deadline > quota.max_deadline:
            raise BudgetExceeded(
                f"Job {job_spec.name}: deadline {_human(job_spec.deadline)} exceeds the {zone} quota of "
                f"{_human(quota.max_deadline)}.",
                hint=f"Shorten `deadline:` or raise jobs.quotas.{zone}.max_deadline in leanops.yaml.",
            )
        code_file = locate_entrypoint(job_spec, loaded.root, job_spec.params)
        probe = probe_source(loaded.root, loaded.path, [code_file] if code_file else [])
        try:  # while git answers
            self.reap()
            secrets_file = Path(self.settings.secrets_file).expanduser() if self.settings.secrets_file else None
            secrets = resolve_secrets(job_spec.secrets, os.environ, secrets_file, loaded.root)
            datasets, data_class = self._resolve_datasets(job_spec.datasets)
        finally:
            source = probe.result()
        clean = source.versioned and not source.dirty
        if not clean and zone != Zone.SANDBOX and not allow_dirty:
            why = "; ".join(source.problems) or "the project is not in a git repository"
            raise Conflict(
                f"Job {job_spec.name} runs in {zone} from a dirty working tree: {why}.",
                hint="Commit the spec and code first, or pass --allow-dirty (its run is then never promotable).",
            )
        name = executor or self.settings.executor
        tags = {"owner": job_spec.owner, **job_spec.tags}
        job = JobRecord(
            id=uuid.uuid4().hex,
            name=job_spec.name,
            owner=job_spec.owner,
            submitted_by=self._guard.actor.name,
            zone=str(zone),
            executor=name,
            spec=job_spec.model_dump(mode="json"),
            params=dict(job_spec.params),
            spec_path=_relative(loaded.path, self.root),
            spec_commit=source.spec_commit,
            code_commit=source.commit,
            code_dirty=source.dirty,
            promotable=clean,
            sweep_id=sweep_id,
            datasets=datasets,
            data_class=data_class,
            tags=tags,
            resources=job_spec.resources.model_dump(),
            deadline_seconds=job_spec.deadline,
            created_at=self.clock.now(),
            runner_host=socket.gethostname(),
            runner_pid=os.getpid(),
        )
        details = {
            "op": "submit",
            "name": job.name,
            "spec": job.spec_path,
            "spec_commit": job.spec_commit,
            "params": job.params,
            "promotable": job.promotable,
            "injects": job_spec.secrets,
        }  # names only; a "secret" key would be masked whole
        with self._guard.act(
            "job.run", self.resource(job), zone=zone, context=self._context(job), details=details
        ) as unit:
            unit.lock("job-admission")  # quota and budget room are read, then claimed, by one submitter at a time
            running = unit.jobs.count_active(str(zone))
            if running >= quota.max_concurrent_jobs:
                raise BudgetExceeded(
                    f"{running} jobs already run in {zone}, its quota of concurrent jobs.",
                    hint=f"Wait for one to end, cancel one, or raise jobs.quotas.{zone}.max_concurrent_jobs.",
                )
            # Quotas, naming, tags and budget room: a listener raises before anything is recorded.
            self.bus.publish(JobAdmitting(job, unit))
            unit.jobs.add(job)
            details["job_id"] = job.id
        return Plan(
            job=job,
            spec=job_spec,
            root=loaded.root,
            executor=self.executors(name),
            secrets=secrets,
            submitted_at=submitted,
            redactor=Redactor(secrets.values()),
        )

    def execute(self, plan: Plan) -> JobRecord:
        """Run a planned job to its end; teardown happens whatever way it ends."""
        job = plan.job
        self.scratch.claim(job.id)
        run = None
        result = AttemptResult(0, Cause.FAILED, ExitInfo(error="the job did not start"))
        note = ""
        try:
            self._issue_token(plan)
            run = self._start_run(plan)
            now = self.clock.now()
            updates = {
                "status": JobStatus.RUNNING,
                "started_at": now,
                "run_id": run.id if run else None,
                "deadline_at": now + timedelta(seconds=plan.spec.deadline),
                "runner_host": socket.gethostname(),
                "runner_pid": os.getpid(),
            }
            self.record(job, "start", {"run_id": updates["run_id"]}, lambda unit: unit.jobs.update(job.id, **updates))
            for key, value in updates.items():
                setattr(job, key, value)
            self.event(job, "start", run_id=job.run_id)
            result = JobRunner(self, plan, run).attempts()
        except BaseException as exc:
            note = f"{type(exc).__name__}: {plan.redactor.text(str(exc))}"
            raise
        finally:
            self.scratch.release(job.id)
            with self._lock:
                self._cancels.pop(job.id, None)
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
        runs = self._runs()
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
        job.status, job.reason, job.ended_at = status, reason, self.clock.now()
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
        self.record(
            job,
            "end",
            {"status": str(status), "attempts": job.attempts, "reason": reason},
            lambda unit: unit.jobs.update(job.id, **values),
        )
        self.event(job, "end", status=str(status), reason=reason)
        self._alert(job, spec, result)

    # -- alerts ---------------------------------------------------------------------------------

    def _alert(self, job: JobRecord, spec: JobSpec, result: AttemptResult) -> None:
        if job.status is JobStatus.TIMED_OUT:
            self.notify(
                job,
                "error",
                f"Job {job.name} timed out",
                f"Job {job.id[:12]} passed its deadline of {_human(spec.deadline)} and was stopped "
                f"after {job.attempts} attempt(s); its scratch space was removed.",
            )
        elif job.status is JobStatus.FAILED and result.cause is Cause.TRANSIENT:
            self.notify(
                job,
                "error",
                f"Job {job.name} gave up",
                f"Job {job.id[:12]} failed {job.attempts} time(s) with transient errors; retries are exhausted. "
                f"Last: {job.reason}",
            )

    def warn(self, job: JobRecord, spec: JobSpec, elapsed: float) -> None:
        """Past the warning share of its deadline: tell the owner while there is time to act."""
        self.notify(
            job,
            "warning",
            f"Job {job.name} is running long",
            f"Job {job.id[:12]} has run {_human(elapsed)} of its {_human(spec.deadline)} deadline.",
        )
        now = self.clock.now()
        job.warned_at = now
        self.record(
            job, "warn", {"elapsed_seconds": round(elapsed, 3)}, lambda unit: unit.jobs.update(job.id, warned_at=now)
        )

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

    def _get(self, unit: Any, job_id: str) -> JobRecord:
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
        job = self.get(job_id)
        if not job.attempt_records:
            return ""
        record = _pick_attempt(job.attempt_records, attempt)
        live = self.scratch.job_dir(job.id) / f"attempt-{record.n}" / "attempt.log"
        if record.status == "running" and live.is_file():
            return live.read_text(encoding="utf-8", errors="replace")
        if record.log_digest is None:
            return ""
        if not self.artifacts.exists(record.log_digest):
            raise NotFound(f"The log of job {job.id[:12]} attempt {record.n} has expired and was collected.")
        return self.artifacts.get_bytes(record.log_digest).decode("utf-8", errors="replace")

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

        def write(unit: Any) -> None:
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
        host = socket.gethostname()
        closed: list[str] = []
        for job_id, folder in self.scratch.abandoned():
            self.scratch.kill_leftovers(folder, job_id)
            self.scratch.release(job_id)
            closed.append(job_id)
        with self._guard.lookup() as unit:
            dead = [
                j for j in unit.jobs.active() if j.runner_host == host and j.runner_pid and not pid_alive(j.runner_pid)
            ]
        for job in dead:
            try:
                self.record(
                    job,
                    "lost",
                    {"runner_pid": job.runner_pid},
                    lambda unit, j=job: unit.jobs.update(
                        j.id,
                        status=JobStatus.LOST,
                        ended_at=self.clock.now(),
                        reason=f"its runner (pid {j.runner_pid}) died",
                    ),
                )
            except PolicyDenied:
                continue  # someone else's job, in a zone this actor may not write; they will see it
            closed.append(job.id)
        return sorted(set(closed))

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

    def record(self, job: JobRecord, op: str, details: dict[str, Any], write: Callable[[Any], None]) -> None:
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
        leanops = {**self.stores, "LEANOPS_TOKEN": plan.token} if plan.token else dict(self.stores)
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
        grace = spec.grace if spec.grace is not None else self.settings.grace_seconds
        ttl = timedelta(seconds=spec.deadline + grace + JOB_TOKEN_MARGIN_SECONDS)
        issued = UserService(self._guard).create_token(
            ttl=ttl, description=f"job {plan.job.id} ({plan.job.name})", zones=[Zone(plan.job.zone)]
        )
        plan.token, plan.token_id = issued.plaintext, issued.record.id

    def _withdraw_token(self, plan: Plan) -> None:
        if plan.token_id:
            from leanops.users import UserService

            UserService(self._guard).revoke_token(plan.token_id)
            plan.token = plan.token_id = None

    @staticmethod
    def resource(job: JobRecord) -> Resource:
        return Resource(type="Job", id=job.id, owner=job.owner, attrs={"zone": job.zone, "data_class": job.data_class})

    def _context(self, job: JobRecord) -> dict[str, Any]:
        rules = self.zone_rules.get(Zone(job.zone))
        return {"data_class": job.data_class, "tagged": not (rules and rules.missing_tags(job.tags))}

    def _resolve_datasets(self, refs: Sequence[str]) -> tuple[list[str], str]:
        """Each reference checked (unknown ones refused) and the highest data class among them."""
        if not refs:
            return [], "none"
        service = self._datasets()
        if service is None:
            return list(refs), "none"
        resolved, classes = [], []
        for ref in refs:
            snapshot = service.resolve(ref)
            resolved.append(str(getattr(snapshot, "ref", None) or ref))
            classes.append(str(getattr(snapshot, "data_class", "none")))
        return resolved, max(classes, key=lambda c: DATA_CLASSES.index(c) if c in DATA_CLASSES else 0)


def _pick_attempt(records: list[AttemptRecord], n: int | None) -> AttemptRecord:
    if n is None:
        return records[-1]
    for record in records:
        if record.n == n:
            return record
    raise NotFound(f"No attempt {n}; the job made {len(records)}.")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _human(seconds: float) -> str:
    """90 → '1m30s', 7200 → '2h', 1.5 → '1.5s'."""
    if seconds < 60:
        return f"{round(seconds, 1):g}s"
    whole = int(round(seconds))
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m"), (whole % 60, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"
