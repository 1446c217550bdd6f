"""Release gates: evidence, approvals, promotion and rollback of model versions.

Every gate asks the policy before it does anything (so a refusal never runs a test command or
moves an alias) and writes its records in the guard's transaction, next to the audit entry.
Evidence is judged only by promotion rules as committed; package bytes are re-hashed at
evaluation, at promotion and at rollback, so a version whose bytes changed never starts serving.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.errors import Conflict, IntegrityError, NotFound, PolicyDenied, ValidationError
from leanops.events import EvaluationDone
from leanops.policy import Resource
from leanops.ports import Unit
from leanops.registry.models import (
    Alias,
    AliasMove,
    Approval,
    Check,
    Evidence,
    History,
    ModelVersion,
    Requirement,
    check_model_name,
    promotion_zone,
)
from leanops.registry.package import verify_package
from leanops.registry.rules import (
    PromotionRules,
    evidence_gaps,
    load_rules,
    previous_approved,
    rules_path,
    served_intervals,
    weaker_than,
)
from leanops.registry.versions import find
from leanops.runs.environment import committed_file
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.registry.service import RegistryService


class Releases:
    """The release gates of `ws.models`: evaluate, approve, promote, roll back, and their history."""

    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry

    def history(self, name: str) -> History:
        check_model_name(name)
        with self.registry._guard.act(
            "model.read", Resource(type="ModelVersion", id=f"{name}/*"), details={"op": "history"}
        ) as unit:
            if not unit.models.list_versions(name):
                raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
            moves = unit.models.moves(name)
            aliases = unit.models.aliases(name)
        return History(name=name, aliases=aliases, moves=moves, served=served_intervals(moves))

    def evidence(self, name: str, version: int | str, zone: Zone | str) -> Evidence | None:
        zone = promotion_zone(zone)
        with self.registry._guard.act(
            "model.read",
            Resource(type="ModelVersion", id=f"{name}/{version}"),
            details={"op": "evidence", "zone": str(zone)},
        ) as unit:
            mv = find(unit, name, version)
            return unit.models.latest_evidence(name, mv.version, zone)

    def evaluate(
        self,
        name: str,
        version: int | str,
        zone: Zone | str,
        *,
        rules: Path | str | None = None,
        trusted: Iterable[str] = (),
    ) -> Evidence:
        from leanops.registry.gather import gather_evidence

        zone = promotion_zone(zone)
        mv = self.registry.get(name, version)
        path = self._rules_file(name, rules)
        run = self.registry.runs.get(mv.run_id)
        context = {"metadata_complete": True, "tagged": self.registry._tagged(run, zone)}
        details: dict[str, Any] = {"zone": str(zone), "rules": self._shown(path)}
        self._require("model.evaluate", self._resource(mv), zone, context, details)
        prules, digest, commit = self._committed_rules(mv, path, zone, details)
        details["rules_commit"] = commit
        requirement = prules.requirement(zone, self.registry.settings.zones.get(zone))
        started = time.perf_counter()
        items = gather_evidence(self.registry, mv, run, prules, requirement, zone, trusted)
        seconds = time.perf_counter() - started
        evidence = Evidence(
            id=uuid.uuid4().hex,
            name=mv.name,
            version=mv.version,
            zone=zone,
            created_at=self.registry.clock.now(),
            created_by=self.registry._guard.actor.name,
            rules_file=self._shown(path),
            rules_digest=digest,
            rules_commit=commit,
            requirement=requirement,
            items=items,
        )
        details |= {"evidence": evidence.id, "passed": evidence.passed, "failed": [i.name for i in evidence.failures]}
        with self.registry._guard.act(
            "model.evaluate", self._resource(mv), zone=zone, context=context, details=details
        ) as unit:
            unit.models.add_evidence(evidence)
        # Evidence first: a refused charge (untagged spend, say) must not lose what was measured.
        self.registry.bus.publish(EvaluationDone(evidence, run, seconds))
        return evidence

    def approve(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> Approval:
        zone = promotion_zone(zone)
        reason = _reason(reason, "approve")
        mv = self.registry.get(name, version)
        with self.registry._guard.lookup() as unit:
            evidence = unit.models.latest_evidence(mv.name, mv.version, zone)
            approved = bool(unit.models.approvals(mv.name, mv.version, zone))
        details: dict[str, Any] = {"zone": str(zone), "reason": reason, "evidence": evidence.id if evidence else None}
        context = {"approved": approved, "metadata_complete": _metadata_ok(evidence)}
        self._require("model.approve", self._resource(mv), zone, context, details)
        self._gate("approve", mv, zone, evidence_gaps(evidence, self._requirement(mv.name, zone, evidence)), details)
        assert evidence is not None
        with self.registry._guard.act(
            "model.approve", self._resource(mv), zone=zone, context=context, details=details
        ) as unit:
            mine = [
                a
                for a in unit.models.approvals(mv.name, mv.version, zone)
                if a.approver == self.registry._guard.actor.name and a.evidence_id == evidence.id
            ]
            if mine:
                raise Conflict(
                    f"{self.registry._guard.actor.name} already approved {mv.ref} for {zone} on this evidence."
                )
            approval = Approval(
                id=uuid.uuid4().hex,
                name=mv.name,
                version=mv.version,
                zone=zone,
                approver=self.registry._guard.actor.name,
                approved_at=self.registry.clock.now(),
                reason=reason,
                evidence_id=evidence.id,
            )
            unit.models.add_approval(approval)
            details["approval"] = approval.id
        return approval

    def promote(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> AliasMove:
        zone = promotion_zone(zone)
        reason = _reason(reason, "promote")
        mv = self.registry.get(name, version)
        with self.registry._guard.lookup() as unit:
            evidence = unit.models.latest_evidence(mv.name, mv.version, zone)
            approvals = unit.models.approvals(mv.name, mv.version, zone)
        run = self.registry.runs.get(mv.run_id)
        context = {
            "approved": bool(approvals),
            "metadata_complete": _metadata_ok(evidence),
            "tagged": self.registry._tagged(run, zone),
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
            verify_package(self.registry.artifacts, mv.manifest.files, mv.ref)
        except IntegrityError as exc:
            self.registry._guard.refuse(
                "model.promote",
                self._resource(mv),
                gate="integrity",
                zone=zone,
                details={**details, "error": exc.message},
            )
            raise
        with self.registry._guard.act(
            "model.promote", self._resource(mv), zone=zone, context=context, details=details
        ) as unit:
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
        zone = promotion_zone(zone)
        reason = _reason(reason, "roll back")
        check_model_name(name)
        with self.registry._guard.lookup() as unit:
            if not unit.models.list_versions(name):
                raise NotFound(f"No model {name!r}.", hint="`leanops models list` shows the registered models.")
            current = unit.models.get_alias(name, zone, lock=True)
            moves = unit.models.moves(name, zone)
            approved = {a.version for a in unit.models.approvals(name, zone=zone)}
            allowed = self.registry.approved_versions(unit, name, zone)
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
        mv = self.registry.get(name, target)
        verify_package(self.registry.artifacts, mv.manifest.files, mv.ref)
        context = {"approved": target in approved}
        details: dict[str, Any] = {"zone": str(zone), "version": target, "previous": current.version, "reason": reason}
        with self.registry._guard.act(
            "model.rollback", self._resource(mv), zone=zone, context=context, details=details
        ) as unit:
            now_serving = unit.models.get_alias(name, zone)
            if now_serving is None or now_serving.version != current.version:
                raise Conflict(
                    f"{zone} of {name} changed while rolling back.", hint="Look at `leanops models history` and retry."
                )
            return self._move(unit, mv, zone, "rollback", now_serving, reason, None, None)

    def _move(
        self,
        unit: Unit,
        mv: ModelVersion,
        zone: Zone,
        action: str,
        current: Alias | None,
        reason: str,
        evidence_id: str | None,
        approval_id: str | None,
    ) -> AliasMove:
        now, actor = self.registry.clock.now(), self.registry._guard.actor.name
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

    def _resource(self, mv: ModelVersion) -> Resource:
        return Resource(type="ModelVersion", id=mv.resource_id, owner=mv.owner)

    def _require(
        self, action: str, resource: Resource, zone: Zone, context: dict[str, Any], details: dict[str, Any]
    ) -> None:
        """Ask before any work is done; a refusal is audited by `check`, which then raises."""
        if not self.registry._guard.decide(action, resource, zone, context).allowed:
            self.registry._guard.check(action, resource, zone=zone, context=context, details=details)

    def _gate(self, verb: str, mv: ModelVersion, zone: Zone, gaps: list[str], details: dict[str, Any]) -> None:
        """Refuse (audited) a release whose evidence does not pass."""
        if gaps:
            self.registry._guard.refuse(
                f"model.{verb}", self._resource(mv), gate="evidence", zone=zone, details={**details, "gaps": gaps}
            )
            raise _refused(verb, mv, zone, gaps)

    def _needs_approval(self, zone: Zone) -> bool:
        rules = self.registry.settings.zones.get(zone)
        return bool(rules and rules.requires_approval)

    def approved_versions(self, unit: Unit, name: str, zone: Zone) -> set[int] | None:
        if not self._needs_approval(zone):
            return None
        return {a.version for a in unit.models.approvals(name, zone=zone)}

    def _rules_file(self, name: str, rules: Path | str | None) -> Path:
        path = Path(rules) if rules is not None else rules_path(self.registry.settings.root, name)
        if not path.is_absolute():
            path = self.registry.settings.root / path
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
        canonical = rules_path(self.registry.settings.root, mv.name)
        if path.resolve() != canonical.resolve() and (base := committed_file(canonical)) is not None:
            reasons = weaker_than(
                prules, load_rules(canonical, base[1])[0], zone, self.registry.settings.zones.get(zone)
            )
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
        self.registry._guard.refuse(
            "model.evaluate", self._resource(mv), gate="rules", zone=zone, details={**details, "why": message}
        )
        raise PolicyDenied(message, hint=hint)

    def rules(self, name: str, rules: Path | str | None = None) -> PromotionRules:
        return load_rules(self._rules_file(name, rules))[0]

    def _requirement(self, name: str, zone: Zone, evidence: Evidence | None) -> Requirement:
        """What `zone` demands now: by the rules file the evidence was gathered under as committed
        at HEAD (rules tightened since then apply; a working copy loosened since then does not),
        else what it demanded when the evidence was gathered."""
        if evidence is None:
            return PromotionRules().requirement(zone, self.registry.settings.zones.get(zone))
        path = self._rules_file(name, evidence.rules_file or None)
        found = committed_file(path)
        if found is None:
            return evidence.requirement
        return load_rules(path, found[1])[0].requirement(zone, self.registry.settings.zones.get(zone))

    def _shown(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.registry.settings.root.resolve()).as_posix()
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
