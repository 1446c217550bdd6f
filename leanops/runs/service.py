"""RunService: starting, finishing, reading and searching runs — every step through the guard."""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from leanops.artifacts import ArtifactRef, check_artifact_name, contained
from leanops.config import RunSettings
from leanops.errors import Conflict, IncompleteMetadata, NotFound, ValidationError
from leanops.guard import Guard
from leanops.policy import Resource
from leanops.ports import ArtifactStore, Unit
from leanops.process import pid_alive
from leanops.runs import environment
from leanops.runs.models import (
    ENVIRONMENT_PREFIX,
    DatasetUse,
    Environment,
    MetricPoint,
    ParamRow,
    RunFilter,
    RunRecord,
    RunStatus,
    Validation,
    dead_reason,
    final_status,
    flagged_value,
    latest_points,
    max_data_class,
    missing_fields,
    param_row,
    tag_value,
)
from leanops.runs.query import compare_frame, page_frame, run_filter
from leanops.zones import Zone, ZoneRules

if TYPE_CHECKING:
    import pandas as pd

    from leanops.runs.handle import Run

PACKAGES_ARTIFACT = f"{ENVIRONMENT_PREFIX}packages.txt"
MODELS_PREFIX = "models/"


class RunService:
    """Tracked runs of one project, acting as the guard's actor."""

    def __init__(
        self,
        guard: Guard,
        artifacts: ArtifactStore,
        settings: RunSettings | None = None,
        *,
        zone_rules: Mapping[Zone, ZoneRules] | None = None,
        datasets: Callable[[], Any] | None = None,
    ) -> None:
        self._guard = guard
        self.artifacts = artifacts
        self.settings = settings or RunSettings()
        self.zone_rules = dict(zone_rules or {})
        self._datasets = datasets or (lambda: None)

    # -- lifecycle --------------------------------------------------------------------------

    def start(
        self,
        purpose: str = "",
        *,
        datasets: Sequence[str] = (),
        features: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        zone: Zone | str | None = None,
        code_dir: Path | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> Run:
        """Open a run: capture code, environment and datasets, record it, and return its handle.

        with ws.runs.start("baseline churn model", datasets=["customers@3"], features=["age"]) as run:
            run.log_metric("auc", 0.91)
        """
        from leanops.runs.handle import Run

        actor = self._guard.actor.name
        run_zone = Zone(zone or self._guard.zone)
        param_rows = [param_row(k, v) for k, v in (params or {}).items()]
        tag_rows = dict(tag_value(k, v) for k, v in (tags or {}).items())
        uses = self._resolve_datasets(datasets)
        text = environment.packages_text()
        env = Environment(
            python=environment.python_version(),
            platform=environment.platform_name(),
            packages_hash=environment.packages_hash(text),
            packages_count=len(environment.installed_packages()),
        )
        env.packages_digest = self.artifacts.put_bytes(text)
        now = self._guard.clock.now()
        record = RunRecord(
            id=uuid.uuid4().hex,
            owner=actor,
            purpose=purpose or "",
            zone=str(run_zone),
            start_time=now,
            code=environment.code_version(code_dir),
            datasets=uses,
            data_class=max_data_class(d.data_class for d in uses),
            features=[str(f) for f in features],
            environment=env,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            heartbeat_at=now,
            params={k: v for k, v, _ in param_rows},
            tags=tag_rows,
            artifacts=[PACKAGES_ARTIFACT],
        )
        missing = missing_fields(record, self.settings.required_fields, at_start=True)
        details = {"purpose": record.purpose, "datasets": [d.id for d in uses], "missing": missing}
        with self._guard.act(
            "run.create",
            self.resource(record),
            zone=run_zone,
            context=self._context(record, complete=not missing),
            details=details,
        ) as unit:
            unit.runs.add(record)
            unit.runs.add_datasets(record.id, uses)
            unit.runs.add_params(record.id, param_rows)
            unit.runs.set_tags(record.id, tag_rows)
            unit.refs.add(self._ref(record, PACKAGES_ARTIFACT, env.packages_digest, len(text)))
            details["run_id"] = record.id
        return Run(self, record, on_end=on_end)

    def _resolve_datasets(self, refs: Sequence[str]) -> list[DatasetUse]:
        """Each reference as a snapshot id and its data class, through `ws.datasets.resolve` (which
        refuses unknown references and audits the read)."""
        if isinstance(refs, str):
            refs = [refs]
        service = self._datasets()
        uses: dict[str, DatasetUse] = {}
        for ref in refs:
            if not isinstance(ref, str) or not ref:
                raise ValidationError(f"Dataset reference {ref!r} is not a non-empty string.")
            if service is None or not hasattr(service, "resolve"):
                raise ValidationError(f"Cannot check dataset {ref!r}: this workspace has no dataset service.")
            snapshot = service.resolve(ref)
            use = DatasetUse(
                id=_snapshot_id(snapshot, ref),
                ref=getattr(snapshot, "ref", None) or ref,
                name=getattr(snapshot, "name", None),
                data_class=_snapshot_class(snapshot),
            )
            uses[use.id] = use
        return list(uses.values())

    def write_batch(
        self,
        run: RunRecord,
        points: Sequence[MetricPoint],
        params: Sequence[ParamRow],
        tags: Mapping[str, str],
        first_seq: int | None = None,
    ) -> dict[str, MetricPoint]:
        """One flush of a run's buffer: one transaction, one audit record, however many points.
        Returns each metric's latest point in the batch.

        `first_seq` numbers the points (a run handle counts from 0); a writer without a counter
        of its own (another process logging to the run) gets microseconds since the epoch, which
        keep its batches apart from each other and from the handle's.
        """
        if first_seq is None:
            first_seq = time.time_ns() // 1000
        latest = latest_points(points)
        details = {"points": len(points), "params": len(params), "tags": len(tags)}
        with self._guard.act(
            "run.log", self.resource(run), zone=Zone(run.zone), context=self._context(run), details=details
        ) as unit:
            unit.runs.add_params(run.id, params)
            unit.runs.add_metrics(run.id, points, first_seq, latest)
            unit.runs.set_tags(run.id, tags)
            unit.runs.heartbeat(run.id, self._guard.clock.now())
        return latest

    def log_artifact(self, run: RunRecord, path: Path, name: str | None = None) -> list[str]:
        """Store a file (or every file under a folder) content-addressed; return the names recorded."""
        path = Path(path)
        if not path.exists():
            raise NotFound(f"No file or folder at {path} to log.")
        base = name or path.name
        files = (
            [(f"{base}/{p.relative_to(path).as_posix()}", p) for p in sorted(path.rglob("*")) if p.is_file()]
            if path.is_dir()
            else [(base, path)]
        )
        return self._store_files(run, files, op="artifact")

    def log_model(self, run: RunRecord, model: Any, name: str = "model", input_example: Any = None) -> list[str]:
        """Save a model by its flavor (skops for scikit-learn) with an inferred signature."""
        from leanops import flavors

        with tempfile.TemporaryDirectory(prefix="leanops-model-") as tmp:
            package = flavors.save_model(model, Path(tmp) / "model", input_example=input_example)
            files = [
                (f"{MODELS_PREFIX}{name}/{p.relative_to(package.path).as_posix()}", p)
                for p in sorted(package.path.rglob("*"))
                if p.is_file()
            ]
            return self._store_files(run, files, op="model", extra={"flavor": package.manifest.flavor})

    def _store_files(
        self, run: RunRecord, files: list[tuple[str, Path]], *, op: str, extra: dict[str, Any] | None = None
    ) -> list[str]:
        for name, _ in files:
            check_artifact_name(name)
            if name in run.artifacts:
                raise Conflict(f"Run {run.id} already has an artifact named {name!r}.", hint="Pass another name=.")
        stored = [(name, self.artifacts.put_file(p), p.stat().st_size) for name, p in files]
        details = {"op": op, "artifacts": [n for n, _, _ in stored], **(extra or {})}
        with self._guard.act(
            "run.log", self.resource(run), zone=Zone(run.zone), context=self._context(run), details=details
        ) as unit:
            for name, digest, size in stored:
                unit.refs.add(self._ref(run, name, digest, size))
        run.artifacts.extend(n for n, _, _ in stored)
        return [n for n, _, _ in stored]

    def finish(self, run: RunRecord, outcome: Literal["ok", "failed", "killed"]) -> RunStatus:
        """Close a run: it ends `finished` only if it carries every required field.

        Completeness is judged on the stored run, not only this handle's view: another process
        (a job's entrypoint) may have logged metrics or the model to the same run.
        """
        with self._guard.lookup() as unit:  # feeds the audited action below
            stored = unit.runs.get(run.id)
            names = [r.name for r in unit.refs.for_owner("run", run.id)]
        if stored is not None:
            run.params = stored.params | run.params
            run.metrics = stored.metrics | run.metrics
            run.tags = stored.tags | run.tags
            run.artifacts = sorted(set(names) | set(run.artifacts))
        run.end_time = self._guard.clock.now()
        missing = missing_fields(run, self.settings.required_fields)
        status = final_status(missing, outcome)
        details = {"op": "end", "status": str(status), "missing": missing}
        with self._guard.act(
            "run.log",
            self.resource(run),
            zone=Zone(run.zone),
            context=self._context(run, complete=not missing),
            details=details,
        ) as unit:
            unit.runs.finish(run.id, status, run.end_time, missing)
        run.status, run.missing = status, missing
        return status

    # -- reads --------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord:
        """A run with its params, latest metrics, tags, datasets and artifact names."""
        with self._guard.act("run.read", Resource(type="Run", id=run_id)) as unit:
            self._reap(unit, [run_id])
            record = unit.runs.get(run_id)
            if record is None:
                raise NotFound(f"No run {run_id!r}.", hint="`leanops runs list` shows the runs.")
            record.artifacts = [r.name for r in unit.refs.for_owner("run", run_id)]
        return record

    def validate(self, run_id: str) -> Validation:
        """Which required fields the run lacks under the current schema."""
        record = self.get(run_id)
        required = list(self.settings.required_fields)
        return Validation(
            run_id=run_id, status=record.status, required=required, missing=missing_fields(record, required)
        )

    def require_candidate(self, run_id: str) -> RunRecord:
        """The run, if it may become a model version; `IncompleteMetadata` names what it lacks."""
        record = self.get(run_id)
        missing = sorted(set(record.missing) | set(missing_fields(record, self.settings.required_fields)))
        if record.status == RunStatus.INCOMPLETE or missing:
            raise IncompleteMetadata(
                f"Run {run_id} lacks required metadata: {', '.join(missing)}.",
                hint="A run missing required fields can never become a model version; start a new run that logs them.",
                run_id=run_id,
                missing=missing,
            )
        if record.status != RunStatus.FINISHED:
            raise Conflict(f"Run {run_id} is {record.status}; only a finished run can become a model version.")
        return record

    def metric_history(self, run_id: str, key: str) -> pd.DataFrame:
        """Every point of one metric: step, value, timestamp and flag (nan, inf, -inf)."""
        import pandas as pd

        with self._guard.act("run.read", Resource(type="Run", id=run_id), details={"metric": key}) as unit:
            points = unit.runs.metric_history(run_id, key)
        return pd.DataFrame(
            [(s, flagged_value(v, f), pd.Timestamp(t, unit="s", tz="UTC"), f) for _, s, v, t, f in points],
            columns=["step", "value", "timestamp", "flag"],
        )

    def artifacts_of(self, run_id: str) -> list[ArtifactRef]:
        with self._guard.act("run.read", Resource(type="Run", id=run_id), details={"op": "artifacts"}) as unit:
            return unit.refs.for_owner("run", run_id)

    def load_model(self, run_id: str, name: str = "model", *, trusted: Iterable[str] = ()) -> Any:
        """Rebuild a model logged with `run.log_model`; never unpickles untrusted types."""
        from leanops import flavors

        prefix = f"{MODELS_PREFIX}{name}/"
        refs = [r for r in self.artifacts_of(run_id) if r.name.startswith(prefix)]
        if not refs:
            raise NotFound(f"Run {run_id} has no model named {name!r}.")
        with tempfile.TemporaryDirectory(prefix="leanops-model-") as tmp:
            for ref in refs:
                self.artifacts.get_file(ref.digest, contained(Path(tmp), ref.name.removeprefix(prefix)))
            return flavors.load_model(Path(tmp), trusted=trusted)

    def filter(
        self,
        *,
        params: Mapping[str, Any] | Sequence[str] = (),
        metrics: Sequence[str] = (),
        tags: Mapping[str, Any] | Sequence[str] = (),
        status: RunStatus | str | None = None,
        owner: str | None = None,
        dataset: str | None = None,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 1000,
    ) -> RunFilter:
        """A RunFilter from friendly arguments: `params={"lr": 0.01}` or `["lr>=0.01"]`, `metrics=["auc>0.8"]`."""
        return run_filter(
            params=params,
            metrics=metrics,
            tags=tags,
            status=status,
            owner=owner,
            dataset=dataset,
            sort=sort,
            descending=descending,
            limit=limit,
        )

    def search(self, flt: RunFilter | None = None, **kwargs: Any) -> pd.DataFrame:
        """Matching runs as a DataFrame, one row each: run_id, status, owner, …, params.X, metrics.Y, tags.Z.

        ws.runs.search(params={"lr": 0.01}, metrics=["auc>0.8"], sort="metrics.auc", descending=True)
        """
        flt = flt or self.filter(**kwargs)
        details = {"op": "search", **flt.model_dump(mode="json", exclude_defaults=True)}
        with self._guard.act("run.read", Resource(type="Run", id="*"), details=details) as unit:
            self._reap(unit)
            page = unit.runs.search(flt)
        return page_frame(page)

    def compare(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Runs side by side: one column per run, one row per field, param and metric."""
        return compare_frame([self.get(r) for r in run_ids])

    # -- liveness -----------------------------------------------------------------------------

    def _reap(self, unit: Unit, only: Iterable[str] | None = None) -> list[str]:
        """Mark `running` runs whose process is gone (or silent too long) as `killed`, in the
        reader's own audited transaction; every point they flushed stays."""
        from leanops.runs.handle import is_open_here

        now = self._guard.clock.now()
        wanted = set(only) if only is not None else None
        killed: list[str] = []
        for run in unit.runs.running():
            if wanted is not None and run.id not in wanted:
                continue
            reason = dead_reason(
                run,
                now,
                hostname=socket.gethostname(),
                pid_alive=pid_alive,
                stale_after=timedelta(seconds=self.settings.stale_after_seconds),
                own_pid=os.getpid(),
                open_here=is_open_here,
            )
            if reason:
                unit.runs.finish(run.id, RunStatus.KILLED, run.heartbeat_at or now, [])
                killed.append(run.id)
        return killed

    # -- helpers ------------------------------------------------------------------------------

    def resource(self, run: RunRecord) -> Resource:
        return Resource(type="Run", id=run.id, owner=run.owner, attrs={"zone": run.zone, "data_class": run.data_class})

    def _context(self, run: RunRecord, complete: bool | None = None) -> dict[str, Any]:
        if complete is None:
            complete = not missing_fields(run, self.settings.required_fields, at_start=True)
        rules = self.zone_rules.get(Zone(run.zone))
        tagged = not (rules and rules.missing_tags(run.tags))
        return {"metadata_complete": complete, "data_class": run.data_class, "tagged": tagged}

    def _ref(self, run: RunRecord, name: str, digest: str, size: int) -> ArtifactRef:
        return ArtifactRef(
            digest=digest,
            owner_kind="run",
            owner_id=run.id,
            name=name,
            size=size,
            zone=run.zone,
            created_at=self._guard.clock.now(),
            created_by=self._guard.actor.name,
        )


def _snapshot_id(snapshot: Any, ref: str) -> str:
    for attr in ("snapshot_id", "id"):
        value = getattr(snapshot, attr, None)
        if isinstance(value, str) and value:
            return value
    return ref


def _snapshot_class(snapshot: Any) -> str:
    for attr in ("data_class", "classification"):
        value = getattr(snapshot, attr, None)
        if value:
            return str(value)
    return "none"
