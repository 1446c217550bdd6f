"""Planning a job: every check it must pass, then its `queued` record; nothing runs yet.

Before anything runs, the spec must pass: a known entrypoint and datasets, a deadline within
the zone's quota, a free slot under the zone's concurrency quota, the secrets it names, and
— in staging and production — a clean, committed working tree. Admission (quotas per job,
naming, tags, budget room) is heard on the bus, inside the same transaction.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.errors import BudgetExceeded, Conflict
from leanops.events import JobAdmitting
from leanops.jobs.models import JobRecord
from leanops.jobs.runner import Plan
from leanops.jobs.secrets import Redactor, resolve_secrets
from leanops.jobs.source import probe_source
from leanops.jobs.spec import LoadedSpec, human_duration, locate_entrypoint
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.jobs.service import JobService

# Least to most sensitive; a job carries the highest class of its datasets.
DATA_CLASSES = ("none", "public", "internal", "confidential", "sensitive")


class Planner:
    """Turns a spec and params into a checked, recorded `Plan` for `ws.jobs`."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    def plan(
        self,
        spec: str | Path | LoadedSpec,
        params: Sequence[str] | Mapping[str, Any] = (),
        *,
        allow_dirty: bool = False,
        executor: str | None = None,
        sweep_id: str | None = None,
    ) -> Plan:
        submitted = time.time()
        loaded = spec if isinstance(spec, LoadedSpec) else self.jobs.load(spec)
        job_spec = loaded.spec.with_params(params)
        zone = Zone(job_spec.zone)
        quota = self.jobs.quota(zone)
        if job_spec.deadline > quota.max_deadline:
            raise BudgetExceeded(
                f"Job {job_spec.name}: deadline {human_duration(job_spec.deadline)} exceeds the {zone} quota of "
                f"{human_duration(quota.max_deadline)}.",
                hint=f"Shorten `deadline:` or raise jobs.quotas.{zone}.max_deadline in leanops.yaml.",
            )
        code_file = locate_entrypoint(job_spec, loaded.root, job_spec.params)
        probe = probe_source(loaded.root, loaded.path, [code_file] if code_file else [])
        try:  # while git answers
            self.jobs.reap()
            secrets_file = (
                Path(self.jobs.settings.secrets_file).expanduser() if self.jobs.settings.secrets_file else None
            )
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
        name = executor or self.jobs.settings.executor
        tags = {"owner": job_spec.owner, **job_spec.tags}
        job = JobRecord(
            id=uuid.uuid4().hex,
            name=job_spec.name,
            owner=job_spec.owner,
            submitted_by=self.jobs._guard.actor.name,
            zone=str(zone),
            executor=name,
            spec=job_spec.model_dump(mode="json"),
            params=dict(job_spec.params),
            spec_path=_relative(loaded.path, self.jobs.root),
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
            created_at=self.jobs.clock.now(),
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
        with self.jobs._guard.act(
            "job.run", self.jobs.resource(job), zone=zone, context=self.jobs._context(job), details=details
        ) as unit:
            unit.lock("job-admission")  # quota and budget room are read, then claimed, by one submitter at a time
            running = unit.jobs.count_active(str(zone))
            if running >= quota.max_concurrent_jobs:
                raise BudgetExceeded(
                    f"{running} jobs already run in {zone}, its quota of concurrent jobs.",
                    hint=f"Wait for one to end, cancel one, or raise jobs.quotas.{zone}.max_concurrent_jobs.",
                )
            # Quotas, naming, tags and budget room: a listener raises before anything is recorded.
            self.jobs.bus.publish(JobAdmitting(job, unit))
            unit.jobs.add(job)
            details["job_id"] = job.id
        return Plan(
            job=job,
            spec=job_spec,
            root=loaded.root,
            executor=self.jobs.executors(name),
            secrets=secrets,
            submitted_at=submitted,
            redactor=Redactor(secrets.values()),
        )

    def _resolve_datasets(self, refs: Sequence[str]) -> tuple[list[str], str]:
        """Each reference checked (unknown ones refused) and the highest data class among them."""
        if not refs:
            return [], "none"
        service = self.jobs._datasets()
        if service is None:
            return list(refs), "none"
        resolved, classes = [], []
        for ref in refs:
            snapshot = service.resolve(ref)
            resolved.append(str(getattr(snapshot, "ref", None) or ref))
            classes.append(str(getattr(snapshot, "data_class", "none")))
        return resolved, max(classes, key=lambda c: DATA_CLASSES.index(c) if c in DATA_CLASSES else 0)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
