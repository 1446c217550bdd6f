"""Collecting the evidence items for one version and one zone.

Each check becomes an item with pass/fail, a one-line detail and its data; a check that
cannot run (a missing dataset, a model that fails to predict) is a failed item, not a crash,
so the record shows exactly what stood in the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from leanops.errors import LeanopsError
from leanops.registry.evaluation import compute_metrics, monitoring_config, run_test_command
from leanops.registry.models import Check, EvidenceItem, ModelVersion, Requirement
from leanops.registry.package import verify_package
from leanops.registry.rules import PromotionRules, Threshold, evaluate_thresholds, previous_approved
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.registry.service import RegistryService
    from leanops.runs import RunRecord


def gather_evidence(
    svc: RegistryService,
    mv: ModelVersion,
    run: RunRecord,
    rules: PromotionRules,
    requirement: Requirement,
    zone: Zone,
    trusted: Iterable[str] = (),
) -> list[EvidenceItem]:
    """Every check, each marked required or not by the zone's requirement."""
    items = [
        metadata_item(svc, run, zone),
        integrity_item(svc, mv),
        *threshold_items(svc, mv, rules, rules.thresholds_for(requirement), trusted),
        tests_item(svc, mv, rules, zone),
        monitoring_item(svc, mv, rules),
        owner_item(rules, run),
        rollback_item(svc, mv, rules, zone),
    ]
    for item in items:
        item.required = item.check in requirement.checks
    return items


def metadata_item(svc: RegistryService, run: RunRecord, zone: Zone) -> EvidenceItem:
    missing = svc.runs.validate(run.id).missing
    tags = svc.missing_tags(run, zone)
    ok = not missing and not tags and str(run.status) == "finished"
    problems = [f"lacks {', '.join(missing)}"] if missing else []
    problems += [f"lacks the {zone} tag(s) {', '.join(tags)}"] if tags else []
    return EvidenceItem(
        check=Check.METADATA,
        name="metadata",
        passed=ok,
        detail="run metadata complete" if ok else f"run {run.id}: " + "; ".join(problems or [run.status]),
        data={"run_id": run.id, "status": str(run.status), "missing": missing, "missing_tags": tags},
    )


def integrity_item(svc: RegistryService, mv: ModelVersion) -> EvidenceItem:
    data = {"files": {f.path: f.digest for f in mv.manifest.files}}
    try:
        verify_package(svc.artifacts, mv.manifest.files, mv.ref)
    except LeanopsError as exc:
        return EvidenceItem(check=Check.INTEGRITY, name="integrity", passed=False, detail=exc.message, data=data)
    return EvidenceItem(
        check=Check.INTEGRITY,
        name="integrity",
        passed=True,
        detail=f"{len(mv.manifest.files)} file(s) match their hashes",
        data=data,
    )


def threshold_items(
    svc: RegistryService, mv: ModelVersion, rules: PromotionRules, thresholds: list[Threshold], trusted: Iterable[str]
) -> list[EvidenceItem]:
    if not thresholds:
        return [
            EvidenceItem(
                check=Check.THRESHOLDS,
                name="thresholds",
                passed=False,
                detail="no thresholds are declared in the rules",
            )
        ]
    spec = rules.evaluation
    assert spec is not None  # the rules refuse thresholds without an evaluation section
    data: dict[str, object] = {"dataset": spec.dataset}
    try:
        datasets = svc._datasets()
        if datasets is None:
            raise LeanopsError("no dataset service is available to load the evaluation snapshot")
        snapshot = datasets.resolve(spec.dataset)
        data |= {"snapshot": snapshot.id, "snapshot_ref": snapshot.ref}
        frame = datasets.load(snapshot.id)
        model = svc._load(mv, trusted)
        metrics = compute_metrics(model, frame, spec, {t.metric for t in thresholds}, mv.manifest.input_columns())
        data["rows"] = len(frame)
    except LeanopsError as exc:
        return [
            EvidenceItem(
                check=Check.THRESHOLDS,
                name=str(t),
                passed=False,
                detail=f"not measured: {exc.message}",
                data={**data, "metric": t.metric},
            )
            for t in thresholds
        ]
    items = evaluate_thresholds(metrics, thresholds)
    for item in items:
        item.data |= data
    return items


def tests_item(svc: RegistryService, mv: ModelVersion, rules: PromotionRules, zone: Zone) -> EvidenceItem:
    if not rules.test_command:
        return EvidenceItem(check=Check.TESTS, name="tests", passed=False, detail="no test_command is set in the rules")
    env = {
        "LEANOPS_MODEL_NAME": mv.name,
        "LEANOPS_MODEL_VERSION": str(mv.version),
        "LEANOPS_MODEL_ZONE": str(zone),
        "LEANOPS_MODEL_RUN_ID": mv.run_id,
    }
    outcome = run_test_command(rules.test_command, svc.settings.root, rules.test_timeout_seconds, env)
    if outcome.timed_out:
        detail = f"timed out after {rules.test_timeout_seconds:g}s"
    elif outcome.exit_code is None:
        detail = outcome.output
    else:
        detail = f"exit code {outcome.exit_code} in {outcome.duration_seconds:.1f}s"
    return EvidenceItem(
        check=Check.TESTS, name="tests", passed=outcome.passed, detail=detail, data=outcome.model_dump()
    )


def monitoring_item(svc: RegistryService, mv: ModelVersion, rules: PromotionRules) -> EvidenceItem:
    ok, data = monitoring_config(svc.settings.root, mv.name, rules)
    detail = (
        f"monitoring config in {data['source']}"
        if ok
        else (data.get("error") or f"no monitoring config: write monitoring/{mv.name}.yaml or a `monitoring:` section")
    )
    return EvidenceItem(check=Check.MONITORING, name="monitoring", passed=ok, detail=str(detail), data=data)


def owner_item(rules: PromotionRules, run: RunRecord) -> EvidenceItem:
    owner, source = (rules.owner, "rules: owner") if rules.owner else (run.tags.get("owner"), "run tag: owner")
    ok = bool(owner and owner.strip())
    return EvidenceItem(
        check=Check.OWNER,
        name="owner",
        passed=ok,
        detail=f"owned by {owner} ({source})" if ok else "no owner: set `owner:` in the rules",
        data={"owner": owner, "source": source if ok else None},
    )


def rollback_item(svc: RegistryService, mv: ModelVersion, rules: PromotionRules, zone: Zone) -> EvidenceItem:
    """Somewhere to return to once this version serves: an earlier approved version that served
    in the zone — or, while the zone has never served this model, a declared first release."""
    with svc._guard.lookup() as unit:
        moves = unit.models.moves(mv.name, zone)
        approved = svc.approved_versions(unit, mv.name, zone)
    target = previous_approved(moves, zone, approved, current=mv.version)
    if target is not None:
        return EvidenceItem(
            check=Check.ROLLBACK_TARGET,
            name="rollback_target",
            passed=True,
            detail=f"v{target} can be returned to",
            data={"previous_approved": target},
        )
    if rules.first_release and not moves:
        return EvidenceItem(
            check=Check.ROLLBACK_TARGET,
            name="rollback_target",
            passed=True,
            detail=f"declared first release in {zone}",
            data={"first_release": True},
        )
    why = "it has served here before" if moves else "`first_release: true` is not set in the rules"
    return EvidenceItem(
        check=Check.ROLLBACK_TARGET,
        name="rollback_target",
        passed=False,
        detail=f"no earlier approved version to roll back to, and no first release ({why})",
        data={"previous_approved": None, "first_release": rules.first_release, "moves": len(moves)},
    )
