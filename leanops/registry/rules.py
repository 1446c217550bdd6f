"""Promotion rules and the pure decisions over them.

A model's rules live in `models/<name>.yaml` at the project root (or a path given to
`evaluate`):

    owner: churn-team                       # who answers for the model in production
    evaluation:
      dataset: customers-holdout@v2         # the evaluation snapshot
      target: churned                       # its label column
    thresholds: ["auc >= 0.85", "latency_p95_ms <= 50"]
    test_command: python -m pytest tests/model -q
    first_release: true                     # production may go live with nothing to roll back to
    zones:
      production:
        requires: [metadata, integrity, thresholds, tests, monitoring, owner, rollback_target]
        thresholds: ["auc >= 0.88"]         # stricter here; same metric and operator replace

Every decision here is a plain function of records, so it is tested without a database.
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from leanops.config import read_yaml, yaml_problems
from leanops.errors import ConfigError
from leanops.registry.models import AliasMove, Check, Evidence, EvidenceItem, Requirement, Served
from leanops.zones import Zone, ZoneRules

RULES_DIR = "models"
# Checks no rules file can waive: a version must still be what was registered, from a complete run.
MANDATORY: tuple[Check, ...] = (Check.METADATA, Check.INTEGRITY)
# Metrics the evaluation computes; `latency_p95_ms` is measured by timing predict on batches.
CLASSIFICATION_METRICS = ("accuracy", "auc", "f1", "precision", "recall")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LATENCY_METRIC = "latency_p95_ms"
METRICS: tuple[str, ...] = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS, LATENCY_METRIC)

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_THRESHOLD_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|>|<)\s*(\S+)\s*$")


class Threshold(BaseModel):
    """`auc >= 0.85` as (metric, op, value)."""

    metric: str
    op: Literal[">=", "<=", ">", "<", "=="]
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def holds(self, measured: float | None) -> bool:
        """NaN, None and ±inf never pass: an unmeasurable metric is not a met threshold."""
        return measured is not None and math.isfinite(measured) and _OPS[self.op](measured, self.value)


def parse_threshold(value: Any) -> Any:
    """Accept 'auc >= 0.85' (or a mapping) and refuse unknown metrics and non-numbers, saying why."""
    if not isinstance(value, str):
        return value
    match = _THRESHOLD_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not of the form 'METRIC OP NUMBER' (OP one of >= <= > < ==)")
    metric, op, number = match.groups()
    try:
        parsed = float(number)
    except ValueError:
        raise ValueError(f"{value!r} compares with {number!r}, which is not a number") from None
    if not math.isfinite(parsed):
        raise ValueError(f"{value!r}: the threshold must be a finite number")
    return {"metric": metric, "op": op, "value": parsed}


def _known_metric(threshold: Threshold) -> Threshold:
    if threshold.metric not in METRICS:
        raise ValueError(f"unknown metric {threshold.metric!r}; known: {', '.join(METRICS)}")
    return threshold


def _problem(key: str, message: str) -> PydanticCustomError:
    """A whole-file rule broken at `key`: the error carries the key, so the message can point at it."""
    return PydanticCustomError("rules", message, {"key": key})


ThresholdField = Annotated[Threshold, BeforeValidator(parse_threshold), AfterValidator(_known_metric)]


class EvaluationSpec(BaseModel, extra="forbid"):
    dataset: str = Field(description="The evaluation snapshot: name@vN, a name or a snapshot id")
    target: str | None = Field(None, description="The label column; every metric but latency needs it")
    batch_size: int = Field(100, ge=1, description="Rows per predict call when timing latency")
    latency_batches: int = Field(20, ge=1, le=10_000, description="How many timed predict calls")


class ZoneRequirements(BaseModel, extra="forbid"):
    requires: list[Check] | None = Field(None, description="Checks this zone demands; default per zone")
    thresholds: list[ThresholdField] = Field(
        default_factory=list, description="Added to, or replacing, the model-wide ones"
    )


class PromotionRules(BaseModel, extra="forbid"):
    owner: str | None = Field(None, description="Person or team answering for the model")
    evaluation: EvaluationSpec | None = None
    thresholds: list[ThresholdField] = Field(default_factory=list)
    test_command: str | None = Field(None, description="Run without a shell from the project root; exit 0 passes")
    test_timeout_seconds: float = Field(600.0, gt=0)
    first_release: bool = Field(False, description="Production may take a version with nothing to roll back to, once")
    monitoring: dict[str, Any] | None = Field(None, description="Monitoring config, if not in monitoring/<model>.yaml")
    zones: dict[Zone, ZoneRequirements] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> PromotionRules:
        wanted = {t.metric for t in self.all_thresholds()}
        if wanted and self.evaluation is None:
            raise _problem("thresholds", "thresholds need an `evaluation:` section naming the evaluation dataset")
        quality = sorted(wanted - {LATENCY_METRIC})
        if quality and self.evaluation is not None and not self.evaluation.target:
            raise _problem("evaluation", "evaluation.target (the label column) is needed for " + ", ".join(quality))
        return self

    def all_thresholds(self) -> list[Threshold]:
        return [*self.thresholds, *(t for z in self.zones.values() for t in z.thresholds)]

    def requirement(self, zone: Zone, zone_rules: ZoneRules | None = None) -> Requirement:
        """What `zone` demands: its `requires` (or the default), the mandatory checks, its thresholds."""
        extra = self.zones.get(zone)
        checks = list(extra.requires) if extra and extra.requires is not None else default_checks(zone, zone_rules)
        checks = [*MANDATORY, *(c for c in checks if c not in MANDATORY)]
        merged: dict[tuple[str, str], Threshold] = {(t.metric, t.op): t for t in self.thresholds}
        merged |= {(t.metric, t.op): t for t in (extra.thresholds if extra else [])}
        return Requirement(zone=zone, checks=list(dict.fromkeys(checks)), thresholds=[str(t) for t in merged.values()])

    def thresholds_for(self, requirement: Requirement) -> list[Threshold]:
        known = {str(t): t for t in self.all_thresholds()}
        return [known[text] for text in requirement.thresholds]


def default_checks(zone: Zone, zone_rules: ZoneRules | None) -> list[Check]:
    """Staging: the version is sound and good enough. Production adds monitoring, an owner and,
    when the zone settings ask for it (they do by default), a rollback target."""
    checks = [Check.METADATA, Check.INTEGRITY, Check.THRESHOLDS, Check.TESTS]
    if zone == Zone.PRODUCTION:
        checks += [Check.MONITORING, Check.OWNER]
    if zone_rules is not None and zone_rules.requires_rollback_target:
        checks.append(Check.ROLLBACK_TARGET)
    return checks


def rules_path(root: Path, name: str) -> Path:
    return root / RULES_DIR / f"{name}.yaml"


def load_rules(path: Path, content: bytes | None = None) -> tuple[PromotionRules, str]:
    """The rules in `path` (or `content`, the file as committed) and the sha256 of its text;
    `ConfigError` names file, line and key."""
    content = path.read_bytes() if content is None else content
    raw = read_yaml(path, content)
    try:
        rules = PromotionRules(**raw)
    except pydantic.ValidationError as exc:
        raise _rules_error(exc, path) from None
    return rules, hashlib.sha256(content).hexdigest()


def _at_least_as_strict(candidate: Threshold | None, bar: Threshold) -> bool:
    if candidate is None:
        return False
    if bar.op in (">=", ">"):
        return candidate.value >= bar.value
    if bar.op in ("<=", "<"):
        return candidate.value <= bar.value
    return candidate.value == bar.value


def _judged_on(rules: PromotionRules) -> tuple[str, str | None] | None:
    return (rules.evaluation.dataset, rules.evaluation.target) if rules.evaluation else None


def weaker_than(
    candidate: PromotionRules, committed: PromotionRules, zone: Zone, zone_rules: ZoneRules | None
) -> list[str]:
    """How `candidate` would judge `zone` more leniently than the committed rules: checks it
    drops, thresholds it loosens or leaves out, another evaluation set or test command, a
    first release it allows. Empty when it is at least as strict."""
    mine, theirs = candidate.requirement(zone, zone_rules), committed.requirement(zone, zone_rules)
    reasons = [f"drops the {c} check" for c in theirs.checks if c not in mine.checks]
    given = {(t.metric, t.op): t for t in candidate.thresholds_for(mine)}
    for bar in committed.thresholds_for(theirs):
        other = given.get((bar.metric, bar.op))
        if not _at_least_as_strict(other, bar):
            reasons.append(f"loosens or leaves out '{bar}'" + (f" (has '{other}')" if other else ""))
    if _judged_on(candidate) != _judged_on(committed):
        reasons.append("evaluates on another dataset or target")
    if Check.TESTS in theirs.checks and candidate.test_command != committed.test_command:
        reasons.append("runs another test command")
    if candidate.first_release and not committed.first_release:
        reasons.append("allows a first release with nothing to roll back to")
    return reasons


def _rules_error(exc: pydantic.ValidationError, path: Path) -> ConfigError:
    problems = yaml_problems(exc, path)
    return ConfigError(
        "Invalid promotion rules:\n  " + "\n  ".join(problems),
        hint="Fix the key named above; `leanops models evaluate --help` shows the file's shape.",
        problems=problems,
    )


# --- pure decisions ----------------------------------------------------------------------------


def evaluate_thresholds(metrics: Mapping[str, float | None], thresholds: Iterable[Threshold]) -> list[EvidenceItem]:
    """One evidence item per threshold: the measured value, the bound, and whether it holds."""
    items = []
    for t in thresholds:
        value = metrics.get(t.metric)
        ok = t.holds(value)
        shown = "not measured" if value is None else f"{value:.6g}"
        items.append(
            EvidenceItem(
                check=Check.THRESHOLDS,
                name=str(t),
                passed=ok,
                detail=f"{t.metric} = {shown} ({'meets' if ok else 'misses'} {t.op} {t.value:g})",
                data={
                    "metric": t.metric,
                    "op": t.op,
                    "threshold": t.value,
                    "value": value if value is None or math.isfinite(value) else str(value),
                },
            )
        )
    return items


def evidence_gaps(evidence: Evidence | None, requirement: Requirement) -> list[str]:
    """Why `evidence` does not clear `requirement` (empty when it does).

    Judged against the requirement now in force, so evidence gathered under laxer rules no
    longer counts once the rules tighten."""
    if evidence is None:
        zone = requirement.zone
        return [f"no evidence for {zone}: run `leanops models evaluate NAME VERSION --zone {zone}`"]
    if evidence.zone != requirement.zone:
        return [f"evidence {evidence.id} is for {evidence.zone}, not {requirement.zone}"]
    gaps: list[str] = []
    by_name = {i.name: i for i in evidence.items if i.check == Check.THRESHOLDS}
    for check in requirement.checks:
        if check == Check.THRESHOLDS:
            if not requirement.thresholds:
                gaps.append("thresholds: none are declared in the rules")
            for text in requirement.thresholds:
                item = by_name.get(text)
                if item is None or not item.passed:
                    gaps.append(f"{text}: {item.detail if item else 'not measured'}")
            continue
        items = [i for i in evidence.items if i.check == check]
        if not items:
            gaps.append(f"{check}: not checked")
        gaps += [f"{i.name}: {i.detail or 'failed'}" for i in items if not i.passed]
    return gaps


def evidence_passes(evidence: Evidence | None, requirement: Requirement) -> bool:
    return not evidence_gaps(evidence, requirement)


def serving_stack(moves: Iterable[AliasMove], zone: Zone) -> list[int]:
    """The versions a zone has served, oldest first, with rolled-back versions dropped.

    A promotion pushes; a rollback to v returns to the last time v served, so whatever came
    after it (the bad release) is no longer something to roll back to."""
    stack: list[int] = []
    for move in moves:
        if move.zone != zone:
            continue
        if move.action == "rollback" and move.version in stack:
            del stack[len(stack) - stack[::-1].index(move.version) :]
        else:
            stack.append(move.version)
    return stack


def previous_approved(
    moves: Iterable[AliasMove], zone: Zone, approved: set[int] | None = None, current: int | None = None
) -> int | None:
    """Where a rollback of `zone` would go: the latest earlier-served version that is approved
    for the zone (`approved=None`: the zone needs no approval, any served version counts)."""
    stack = serving_stack(moves, zone)
    current = current if current is not None else (stack[-1] if stack else None)
    for version in reversed(stack[:-1] if stack and stack[-1] == current else stack):
        if version != current and (approved is None or version in approved):
            return version
    return None


def served_intervals(moves: Iterable[AliasMove]) -> list[Served]:
    """Which version each zone served when, from the alias moves in order."""
    open_: dict[Zone, Served] = {}
    out: list[Served] = []
    for move in moves:
        zone = Zone(move.zone)
        if zone in open_:
            open_[zone].until = move.at
        served = Served(zone=zone, version=move.version, since=move.at, actor=move.actor, action=move.action)
        open_[zone] = served
        out.append(served)
    return out
