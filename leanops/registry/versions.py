"""Model versions: registering a run's logged model with its lineage, and reading versions back.

Package bytes are re-hashed at registration: a version is only ever made from verified files
of a finished, complete run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from leanops.artifacts import ArtifactRef
from leanops.errors import Conflict, LeanopsError, NotFound, WriteRace
from leanops.guard import retrying_races
from leanops.policy import Resource
from leanops.ports import Unit
from leanops.registry.models import (
    Alias,
    CodeLink,
    DatasetLink,
    Lineage,
    LineageReport,
    ModelVersion,
    PackageFile,
    check_model_name,
    parse_version,
)
from leanops.registry.package import read_manifest, verify_package
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.registry.service import RegistryService
    from leanops.runs import RunRecord

MODELS_PREFIX = "models/"  # where `run.log_model` puts a package among the run's artifacts
JOB_TAGS = ("leanops.job_id", "job_id")  # where a job's run names its job
UNPROMOTABLE_TAG = "leanops.promotable"  # "false" on runs of jobs started from uncommitted code


class Versions:
    """The versions of `ws.models`: register, get, list, lineage, load, verify."""

    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry

    @retrying_races
    def register(
        self, run_id: str, name: str, *, model: str = "model", parent: int | str | None = None, description: str = ""
    ) -> ModelVersion:
        check_model_name(name)
        run = self.registry.runs.require_candidate(run_id)
        if run.tags.get(UNPROMOTABLE_TAG) == "false":
            raise Conflict(
                f"Run {run_id} came from a job started with uncommitted changes; it can never be released.",
                hint="Commit the spec and code, run the job again, and register that run.",
            )
        prefix = f"{MODELS_PREFIX}{model}/"
        refs = [r for r in self.registry.runs.artifacts_of(run_id) if r.name.startswith(prefix)]
        if not refs:
            raise NotFound(
                f"Run {run_id} has no model named {model!r}.",
                hint="Log one in the run with run.log_model(model, input_example=X).",
            )
        files = [PackageFile(path=r.name.removeprefix(prefix), digest=r.digest, size=r.size) for r in refs]
        verify_package(self.registry.artifacts, files, f"run {run_id}")
        manifest = read_manifest(self.registry.artifacts, files, run_id)
        with self.registry._guard.lookup() as unit:
            expected = unit.models.max_version(name) + 1
            taken = next((v for v in unit.models.list_versions(name) if v.run_id == run_id), None)
            parent_version = self._parent(unit, name, parent, expected)
        if taken is not None:
            raise Conflict(
                f"Run {run_id} is already {taken.ref}.", hint=f"`leanops models show {name} {taken.version}`."
            )
        lineage = self._lineage(run, parent_version)
        zone = Zone(run.zone)
        resource = Resource(
            type="ModelVersion",
            id=f"{name}/{expected}",
            owner=run.owner,
            attrs={"zone": run.zone, "data_class": run.data_class},
        )
        context = {"metadata_complete": True, "tagged": self.registry._tagged(run, zone), "data_class": run.data_class}
        details: dict[str, Any] = {"run_id": run_id, "flavor": manifest.flavor, "files": len(files)}
        with self.registry._guard.act("model.register", resource, zone=zone, context=context, details=details) as unit:
            unit.lock(f"model:{name}")
            if unit.models.max_version(name) + 1 != expected:
                raise WriteRace(f"Another version of {name} was registered meanwhile.", hint="Register again.")
            version = ModelVersion(
                name=name,
                version=expected,
                run_id=run_id,
                owner=run.owner,
                description=description,
                created_at=self.registry.clock.now(),
                created_by=self.registry._guard.actor.name,
                manifest=manifest,
                lineage=lineage,
            )
            unit.models.add_version(version)
            for f in files:
                unit.refs.add(
                    ArtifactRef(
                        digest=f.digest,
                        owner_kind="model",
                        owner_id=version.resource_id,
                        name=f.path,
                        size=f.size,
                        zone=run.zone,
                        created_at=version.created_at,
                        created_by=version.created_by,
                    )
                )
            details["version"] = expected
        return version

    def _parent(self, unit: Unit, name: str, parent: int | str | None, expected: int) -> int | None:
        if parent is None:
            return expected - 1 if expected > 1 else None
        number = parse_version(parent)
        if unit.models.get_version(name, number) is None:
            raise NotFound(f"No version {number} of {name} to name as parent.", hint=f"`leanops models list {name}`.")
        return number

    def _lineage(self, run: RunRecord, parent: int | None) -> Lineage:
        env = run.environment
        return Lineage(
            run_id=run.id,
            run_owner=run.owner,
            run_purpose=run.purpose,
            job_id=next((run.tags[t] for t in JOB_TAGS if run.tags.get(t)), None),
            datasets=[DatasetLink(id=d.id, ref=self._dataset_ref(d.id), data_class=d.data_class) for d in run.datasets],
            code=CodeLink(commit=run.code.commit, dirty=run.code.dirty, remote=run.code.remote),
            features=list(run.features),
            environment=(
                {"python": env.python, "platform": env.platform, "packages_hash": env.packages_hash} if env else {}
            ),
            parent=parent,
        )

    def _dataset_ref(self, snapshot_id: str) -> str | None:
        service = self.registry._datasets()
        if service is None:
            return None
        try:
            return service.resolve(snapshot_id).ref
        except LeanopsError:
            return None

    def get(self, name: str, version: int | str = "latest") -> ModelVersion:
        check_model_name(name)
        with self.registry._guard.act("model.read", Resource(type="ModelVersion", id=f"{name}/{version}")) as unit:
            return find(unit, name, version)

    def list(self, name: str | None = None) -> list[ModelVersion]:
        with self.registry._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name or '*'}/*"), details={"op": "list"}
        ) as unit:
            versions = unit.models.list_versions(name)
        if name is not None and not versions:
            raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
        return versions

    def aliases(self, name: str | None = None) -> list[Alias]:
        with self.registry._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name or '*'}/*"), details={"op": "aliases"}
        ) as unit:
            return unit.models.aliases(name)

    def lineage(self, name: str, version: int | str = "latest") -> LineageReport:
        with self.registry._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name}/{version}"), details={"op": "lineage"}
        ) as unit:
            mv = find(unit, name, version)
            ancestors: list[ModelVersion] = []
            seen, parent = {mv.version}, mv.lineage.parent
            while parent is not None and parent not in seen:
                found = unit.models.get_version(name, parent)
                if found is None:
                    break
                ancestors.append(found)
                seen.add(parent)
                parent = found.lineage.parent
            serving = [a.zone for a in unit.models.aliases(name) if a.version == mv.version]
            approvals = unit.models.approvals(name, mv.version)
        run = self.registry.runs.get(mv.run_id)
        return LineageReport(
            model=mv,
            serving=serving,
            approvals=approvals,
            run={
                "id": run.id,
                "status": str(run.status),
                "owner": run.owner,
                "purpose": run.purpose,
                "zone": run.zone,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "params": run.params,
                "metrics": run.metrics,
                "tags": run.tags,
            },
            ancestors=[
                {"version": a.version, "run_id": a.run_id, "created_at": a.created_at, "created_by": a.created_by}
                for a in ancestors
            ],
        )

    def load(self, name: str, version: int | str = "production", *, trusted: Iterable[str] = ()) -> Any:
        return self.registry._load(self.registry.get(name, version), trusted)

    def verify(self, name: str, version: int | str) -> ModelVersion:
        mv = self.registry.get(name, version)
        verify_package(self.registry.artifacts, mv.manifest.files, mv.ref)
        return mv


def find(unit: Unit, name: str, version: int | str) -> ModelVersion:
    """A version by number, by the zone serving it or "latest", read in `unit` (`NotFound`)."""
    versions = unit.models.list_versions(name)
    if not versions:
        raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
    text = str(version).lower()
    if text == "latest":
        return versions[-1]
    if text in {str(z) for z in Zone}:
        alias = unit.models.get_alias(name, Zone(text))
        if alias is None:
            raise NotFound(f"No version of {name} serves in {text}.", hint=f"`leanops models history {name}`.")
        version = alias.version
    number = parse_version(version)
    found = next((v for v in versions if v.version == number), None)
    if found is None:
        raise NotFound(f"No version {number} of {name}.", hint=f"{name} has versions 1..{versions[-1].version}.")
    return found
