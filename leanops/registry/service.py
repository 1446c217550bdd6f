"""RegistryService: model versions, evidence, approvals, promotion and rollback — all guarded.

Every operation asks the policy before it does anything (so a refusal never runs a test
command or moves an alias) and writes its records in the guard's transaction, next to the
audit entry. Package bytes are re-hashed at registration, at evaluation, at promotion and at
rollback: a version whose bytes changed can never start serving.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.artifacts import ArtifactRef
from leanops.config import Settings
from leanops.errors import Conflict, IntegrityError, LeanopsError, NotFound, PolicyDenied, ValidationError, WriteRace
from leanops.events import EvaluationDone, EventBus
from leanops.guard import Guard, retrying_races
from leanops.policy import Resource
from leanops.ports import ArtifactStore, Clock
from leanops.registry.models import (
    Alias,
    AliasMove,
    Approval,
    Check,
    CodeLink,
    DatasetLink,
    Evidence,
    History,
    Lineage,
    LineageReport,
    ModelVersion,
    PackageFile,
    Requirement,
    check_model_name,
    parse_version,
    promotion_zone,
)
from leanops.registry.package import load_package, read_manifest, verify_package
from leanops.registry.rules import (
    PromotionRules,
    evidence_gaps,
    load_rules,
    previous_approved,
    rules_path,
    served_intervals,
    weaker_than,
)
from leanops.runs.environment import committed_file
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.runs import RunRecord, RunService

MODELS_PREFIX = "models/"  # where `run.log_model` puts a package among the run's artifacts
JOB_TAGS = ("leanops.job_id", "job_id")  # where a job's run names its job
UNPROMOTABLE_TAG = "leanops.promotable"  # "false" on runs of jobs started from uncommitted code


class RegistryService:
    """`ws.models`: the model registry of one project, acting as the guard's actor."""

    def __init__(
        self,
        guard: Guard,
        artifacts: ArtifactStore,
        runs: RunService,
        datasets: Callable[[], Any] | None = None,
        clock: Clock | None = None,
        settings: Settings | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self._guard = guard
        self.bus = bus or EventBus()  # cost hears evaluations on it
        self.artifacts = artifacts
        self.runs = runs
        self._datasets = datasets or (lambda: None)
        self.clock = clock or guard.clock
        self.settings = settings or Settings()

    # -- registering ----------------------------------------------------------------------

    @retrying_races
    def register(
        self, run_id: str, name: str, *, model: str = "model", parent: int | str | None = None, description: str = ""
    ) -> ModelVersion:
        """Make the next version of `name` from a finished, complete run's logged model.

        ws.models.register(run.id, name="churn")
        """
        check_model_name(name)
        run = self.runs.require_candidate(run_id)
        if run.tags.get(UNPROMOTABLE_TAG) == "false":
            raise Conflict(
                f"Run {run_id} came from a job started with uncommitted changes; it can never be released.",
                hint="Commit the spec and code, run the job again, and register that run.",
            )
        prefix = f"{MODELS_PREFIX}{model}/"
        refs = [r for r in self.runs.artifacts_of(run_id) if r.name.startswith(prefix)]
        if not refs:
            raise NotFound(
                f"Run {run_id} has no model named {model!r}.",
                hint="Log one in the run with run.log_model(model, input_example=X).",
            )
        files = [PackageFile(path=r.name.removeprefix(prefix), digest=r.digest, size=r.size) for r in refs]
        verify_package(self.artifacts, files, f"run {run_id}")
        manifest = read_manifest(self.artifacts, files, run_id)
        with self._guard.lookup() as unit:
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
        context = {"metadata_complete": True, "tagged": self._tagged(run, zone), "data_class": run.data_class}
        details: dict[str, Any] = {"run_id": run_id, "flavor": manifest.flavor, "files": len(files)}
        with self._guard.act("model.register", resource, zone=zone, context=context, details=details) as unit:
            unit.lock(f"model:{name}")
            if unit.models.max_version(name) + 1 != expected:
                raise WriteRace(f"Another version of {name} was registered meanwhile.", hint="Register again.")
            version = ModelVersion(
                name=name,
                version=expected,
                run_id=run_id,
                owner=run.owner,
                description=description,
                created_at=self.clock.now(),
                created_by=self._guard.actor.name,
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

    def _parent(self, unit: Any, name: str, parent: int | str | None, expected: int) -> int | None:
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
        service = self._datasets()
        if service is None:
            return None
        try:
            return service.resolve(snapshot_id).ref
        except LeanopsError:
            return None

    # -- reading --------------------------------------------------------------------------

    def get(self, name: str, version: int | str = "latest") -> ModelVersion:
        """A version by number (3, "v3"), by the zone serving it ("production") or "latest"."""
        check_model_name(name)
        with self._guard.act("model.read", Resource(type="ModelVersion", id=f"{name}/{version}")) as unit:
            return self._find(unit, name, version)

    def _find(self, unit: Any, name: str, version: int | str) -> ModelVersion:
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

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of `name`), by name then version."""
        with self._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name or '*'}/*"), details={"op": "list"}
        ) as unit:
            versions = unit.models.list_versions(name)
        if name is not None and not versions:
            raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
        return versions

    def aliases(self, name: str | None = None) -> list[Alias]:
        with self._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name or '*'}/*"), details={"op": "aliases"}
        ) as unit:
            return unit.models.aliases(name)

    def lineage(self, name: str, version: int | str = "latest") -> LineageReport:
        """version → run → dataset snapshots → code commit → feature set → parent versions."""
        with self._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name}/{version}"), details={"op": "lineage"}
        ) as unit:
            mv = self._find(unit, name, version)
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
        run = self.runs.get(mv.run_id)
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

    def history(self, name: str) -> History:
        """Every alias move of `name` and which version each zone served when."""
        check_model_name(name)
        with self._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name}/*"), details={"op": "history"}
        ) as unit:
            if not unit.models.list_versions(name):
                raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
            moves = unit.models.moves(name)
            aliases = unit.models.aliases(name)
        return History(name=name, aliases=aliases, moves=moves, served=served_intervals(moves))

    def evidence(self, name: str, version: int | str, zone: Zone | str) -> Evidence | None:
        """The latest evidence record of a version for a zone, if it was evaluated."""
        zone = promotion_zone(zone)
        with self._guard.act(
            "model.read",
            Resource(type="ModelVersion", id=f"{name}/{version}"),
            details={"op": "evidence", "zone": str(zone)},
        ) as unit:
            mv = self._find(unit, name, version)
            return unit.models.latest_evidence(name, mv.version, zone)

    def load(self, name: str, version: int | str = "production", *, trusted: Iterable[str] = ()) -> Any:
        """The model object of a version (or of the version a zone serves), from verified bytes.

        model = ws.models.load("churn", "production")
        """
        return self._load(self.get(name, version), trusted)

    def _load(self, mv: ModelVersion, trusted: Iterable[str] = ()) -> Any:
        return load_package(self.artifacts, mv.manifest, trusted)

    def verify(self, name: str, version: int | str) -> ModelVersion:
        """Re-hash every file of a version's package (`IntegrityError` on a mismatch)."""
        mv = self.get(name, version)
        verify_package(self.artifacts, mv.manifest.files, mv.ref)
        return mv

    # -- evidence and approval ------------------------------------------------------------

    def evaluate(
        self,
        name: str,
        version: int | str,
        zone: Zone | str,
        *,
        rules: Path | str | None = None,
        trusted: Iterable[str] = (),
    ) -> Evidence:
        """Collect and store the evidence for serving a version in `zone`, item by item.

        ev = ws.models.evaluate("churn", 3, zone="staging")
        ev.passed, [(i.name, i.passed) for i in ev.items]
        """
        from leanops.registry.gather import gather_evidence

        zone = promotion_zone(zone)
        mv = self.get(name, version)
        path = self._rules_file(name, rules)
        run = self.runs.get(mv.run_id)
        context = {"metadata_complete": True, "tagged": self._tagged(run, zone)}
        details: dict[str, Any] = {"zone": str(zone), "rules": self._shown(path)}
        self._require("model.evaluate", self._resource(mv), zone, context, details)
        prules, digest, commit = self._committed_rules(mv, path, zone, details)
        details["rules_commit"] = commit
        requirement = prules.requirement(zone, self.settings.zones.get(zone))
        started = time.perf_counter()
        items = gather_evidence(self, mv, run, prules, requirement, zone, trusted)
        seconds = time.perf_counter() - started
        evidence = Evidence(
            id=uuid.uuid4().hex,
            name=mv.name,
            version=mv.version,
            zone=zone,
            created_at=self.clock.now(),
            created_by=self._guard.actor.name,
            rules_file=self._shown(path),
            rules_digest=digest,
            rules_commit=commit,
            requirement=requirement,
            items=items,
        )
        details |= {"evidence": evidence.id, "passed": evidence.passed, "failed": [i.name for i in evidence.failures]}
        with self._guard.act("model.evaluate", self._resource(mv), zone=zone, context=context, details=details) as unit:
            unit.models.add_evidence(evidence)
        # Evidence first: a refused charge (untagged spend, say) must not lose what was measured.
        self.bus.publish(EvaluationDone(evidence, run, seconds))
        return evidence

    def approve(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> Approval:
        """Record an approver's approval of a version for a zone, tied to its passing evidence.

        The policy refuses the model's own author (four eyes) and anyone not an approver."""
        zone = promotion_zone(zone)
        reason = _reason(reason, "approve")
        mv = self.get(name, version)
        with self._guard.lookup() as unit:
            evidence = unit.models.latest_evidence(mv.name, mv.version, zone)
            approved = bool(unit.models.approvals(mv.name, mv.version, zone))
        details: dict[str, Any] = {"zone": str(zone), "reason": reason, "evidence": evidence.id if evidence else None}
        context = {"approved": approved, "metadata_complete": _metadata_ok(evidence)}
        self._require("model.approve", self._resource(mv), zone, context, details)
        self._gate("approve", mv, zone, evidence_gaps(evidence, self._requirement(mv.name, zone, evidence)), details)
        assert evidence is not None
        with self._guard.act("model.approve", self._resource(mv), zone=zone, context=context, details=details) as unit:
            mine = [
                a
                for a in unit.models.approvals(mv.name, mv.version, zone)
                if a.approver == self._guard.actor.name and a.evidence_id == evidence.id
            ]
            if mine:
                raise Conflict(f"{self._guard.actor.name} already approved {mv.ref} for {zone} on this evidence.")
            approval = Approval(
                id=uuid.uuid4().hex,
                name=mv.name,
                version=mv.version,
                zone=zone,
                approver=self._guard.actor.name,
                approved_at=self.clock.now(),
                reason=reason,
                evidence_id=evidence.id,
            )
            unit.models.add_approval(approval)
            details["approval"] = approval.id
        return approval

    # -- zones ----------------------------------------------------------------------------

    def promote(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> AliasMove:
        """Point `zone`'s alias at a version — if the policy allows and its evidence passes.

        ws.models.promote("churn", 3, "production", reason="beats v2 on the March holdout")
        """
        zone = promotion_zone(zone)
        reason = _reason(reason, "promote")
        mv = self.get(name, version)
        with self._guard.lookup() as unit:
            evidence = unit.models.latest_evidence(mv.name, mv.version, zone)
            approvals = unit.models.approvals(mv.name, mv.version, zone)
        run = self.runs.get(mv.run_id)
        context = {
            "approved": bool(approvals),
            "metadata_complete": _metadata_ok(evidence),
            "tagged": self._tagged(run, zone),
        }
        details: dict[str, Any] = {
            "zone": str(zone),
            "version": mv.version,
            "reason": reason,
            "evidence": evidence.id if evidence else None,
            "approval": approvals[-1].id if approvals else None,
        }
        self._require("model.promote", self._resource(mv), zone, context, details)
        self._gate("promote", mv, zone, evidence_gaps(evidence, self._requirement(mv.name, zone, evidence)), details)
        try:
            verify_package(self.artifacts, mv.manifest.files, mv.ref)
        except IntegrityError as exc:
            self._guard.refuse(
                "model.promote",
                self._resource(mv),
                gate="integrity",
                zone=zone,
                details={**details, "error": exc.message},
            )
            raise
        with self._guard.act("model.promote", self._resource(mv), zone=zone, context=context, details=details) as unit:
            current = unit.models.get_alias(mv.name, zone, lock=True)
            if current is not None and current.version == mv.version:
                raise Conflict(f"{zone} already serves {mv.ref}.")
            move = self._move(
                unit,
                mv,
                zone,
                "promote",
                current,
                reason,
                evidence.id if evidence else None,
                approvals[-1].id if approvals else None,
            )
            details["previous"] = move.previous
        return move

    def rollback(self, name: str, zone: Zone | str, *, reason: str) -> AliasMove:
        """Return `zone`'s alias to the version it served before, if that one was approved there.

        One call for a person (`leanops rollback`) and for automation: a service account with
        the approver role may call it, e.g. when monitoring sees a release misbehave.

            ws.models.rollback("churn", "production", reason="p95 latency alert")
        """
        zone = promotion_zone(zone)
        reason = _reason(reason, "roll back")
        check_model_name(name)
        with self._guard.lookup() as unit:
            if not unit.models.list_versions(name):
                raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
            current = unit.models.get_alias(name, zone, lock=True)
            moves = unit.models.moves(name, zone)
            approved = {a.version for a in unit.models.approvals(name, zone=zone)}
            allowed = self.approved_versions(unit, name, zone)
        if current is None:
            raise Conflict(f"{name} has never been promoted to {zone}; there is nothing to roll back.")
        target = previous_approved(moves, zone, allowed, current.version)
        if target is None:
            raise Conflict(
                f"Cannot roll back {name} in {zone}: no earlier approved version has served there "
                f"(it serves v{current.version}, and nothing before it can be returned to).",
                hint=f"Promote a fixed version instead: leanops promote {name} VERSION --to {zone} --reason ...",
                current=current.version,
            )
        mv = self.get(name, target)
        verify_package(self.artifacts, mv.manifest.files, mv.ref)
        context = {"approved": target in approved}
        details: dict[str, Any] = {"zone": str(zone), "version": target, "previous": current.version, "reason": reason}
        with self._guard.act("model.rollback", self._resource(mv), zone=zone, context=context, details=details) as unit:
            now_serving = unit.models.get_alias(name, zone)
            if now_serving is None or now_serving.version != current.version:
                raise Conflict(
                    f"{zone} of {name} changed while rolling back.", hint="Look at `leanops models history` and retry."
                )
            return self._move(unit, mv, zone, "rollback", now_serving, reason, None, None)

    def _move(
        self,
        unit: Any,
        mv: ModelVersion,
        zone: Zone,
        action: str,
        current: Alias | None,
        reason: str,
        evidence_id: str | None,
        approval_id: str | None,
    ) -> AliasMove:
        now, actor = self.clock.now(), self._guard.actor.name
        unit.models.set_alias(Alias(name=mv.name, zone=zone, version=mv.version, updated_at=now, updated_by=actor))
        move = AliasMove(
            name=mv.name,
            zone=zone,
            version=mv.version,
            previous=current.version if current else None,
            action=action,
            actor=actor,
            at=now,
            reason=reason,
            evidence_id=evidence_id,
            approval_id=approval_id,
        )  # type: ignore[arg-type]
        unit.models.add_move(move)
        return move

    # -- helpers --------------------------------------------------------------------------

    def _resource(self, mv: ModelVersion) -> Resource:
        return Resource(type="ModelVersion", id=mv.resource_id, owner=mv.owner)

    def _require(
        self, action: str, resource: Resource, zone: Zone, context: dict[str, Any], details: dict[str, Any]
    ) -> None:
        """Ask before any work is done; a refusal is audited by `check`, which then raises."""
        if not self._guard.decide(action, resource, zone, context).allowed:
            self._guard.check(action, resource, zone=zone, context=context, details=details)

    def _gate(self, verb: str, mv: ModelVersion, zone: Zone, gaps: list[str], details: dict[str, Any]) -> None:
        """Refuse (audited) a release whose evidence does not pass."""
        if gaps:
            self._guard.refuse(
                f"model.{verb}", self._resource(mv), gate="evidence", zone=zone, details={**details, "gaps": gaps}
            )
            raise _refused(verb, mv, zone, gaps)

    def _tagged(self, run: RunRecord, zone: Zone) -> bool:
        return not self.missing_tags(run, zone)

    def missing_tags(self, run: RunRecord, zone: Zone) -> list[str]:
        rules = self.settings.zones.get(zone)
        return rules.missing_tags(run.tags) if rules else []

    def _needs_approval(self, zone: Zone) -> bool:
        rules = self.settings.zones.get(zone)
        return bool(rules and rules.requires_approval)

    def approved_versions(self, unit: Any, name: str, zone: Zone) -> set[int] | None:
        """The versions a rollback of `zone` may return to (None: the zone needs no approval)."""
        if not self._needs_approval(zone):
            return None
        return {a.version for a in unit.models.approvals(name, zone=zone)}

    def _rules_file(self, name: str, rules: Path | str | None) -> Path:
        path = Path(rules) if rules is not None else rules_path(self.settings.root, name)
        if not path.is_absolute():
            path = self.settings.root / path
        if not path.is_file():
            raise NotFound(
                f"No promotion rules for {name} at {path}.",
                hint=f"Write {self._shown(path)} with `evaluation:`, `thresholds:` and `test_command:` "
                "(see docs/registry.md), or pass --rules PATH.",
            )
        return path

    def _committed_rules(
        self, mv: ModelVersion, path: Path, zone: Zone, details: dict[str, Any]
    ) -> tuple[PromotionRules, str, str]:
        """The rules that judge release evidence: the file as committed at HEAD (so everyone can
        see what judged it), never a working copy that differs, and never weaker than the
        committed `models/<name>.yaml`. The evaluator does not get to pick a lenient judge."""
        shown = self._shown(path)
        load_rules(path)  # a malformed working copy is reported by file, line and key first
        found = committed_file(path)
        if found is None or found[1] != path.read_bytes():
            why = f"{shown} is not committed" if found is None else f"{shown} has uncommitted changes"
            self._refuse_rules(
                mv,
                zone,
                details,
                f"{why}; release evidence is judged only by committed rules.",
                hint=f"Commit it first: git add {shown} && git commit",
            )
        assert found is not None
        commit, content = found
        prules, digest = load_rules(path, content)
        canonical = rules_path(self.settings.root, mv.name)
        if path.resolve() != canonical.resolve() and (base := committed_file(canonical)) is not None:
            reasons = weaker_than(prules, load_rules(canonical, base[1])[0], zone, self.settings.zones.get(zone))
            if reasons:
                self._refuse_rules(
                    mv,
                    zone,
                    details,
                    f"{shown} is weaker than the committed {self._shown(canonical)} for {zone}: "
                    + "; ".join(reasons)
                    + ".",
                    hint=f"Evaluate with the committed rules (drop --rules), or make {self._shown(canonical)} the rules.",
                )
        return prules, digest, commit

    def _refuse_rules(self, mv: ModelVersion, zone: Zone, details: dict[str, Any], message: str, *, hint: str) -> None:
        self._guard.refuse(
            "model.evaluate", self._resource(mv), gate="rules", zone=zone, details={**details, "why": message}
        )
        raise PolicyDenied(message, hint=hint)

    def rules(self, name: str, rules: Path | str | None = None) -> PromotionRules:
        """The promotion rules of `name`, validated (`ConfigError` names file, line and key)."""
        return load_rules(self._rules_file(name, rules))[0]

    def _requirement(self, name: str, zone: Zone, evidence: Evidence | None) -> Requirement:
        """What `zone` demands now: by the rules file the evidence was gathered under as committed
        at HEAD (rules tightened since then apply; a working copy loosened since then does not),
        else what it demanded when the evidence was gathered."""
        if evidence is None:
            return PromotionRules().requirement(zone, self.settings.zones.get(zone))
        path = self._rules_file(name, evidence.rules_file or None)
        found = committed_file(path)
        if found is None:
            return evidence.requirement
        return load_rules(path, found[1])[0].requirement(zone, self.settings.zones.get(zone))

    def _shown(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.settings.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def _refused(verb: str, mv: ModelVersion, zone: Zone, gaps: list[str]) -> Conflict:
    return Conflict(
        f"Cannot {verb} {mv.ref} for {zone}: its evidence does not pass:\n  - " + "\n  - ".join(gaps),
        hint=f"Fix what failed, then `leanops models evaluate {mv.name} {mv.version} --zone {zone}`.",
        gaps=gaps,
    )


def _metadata_ok(evidence: Evidence | None) -> bool:
    if evidence is None:
        return True  # a version is only ever made from a complete run
    return all(i.passed for i in evidence.items if i.check == Check.METADATA)


def _reason(reason: str, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(
            f"Say why you {what}: a reason is required and kept in the history.", hint='Pass --reason "…".'
        )
    return reason.strip()


__all__ = ["RegistryService"]
