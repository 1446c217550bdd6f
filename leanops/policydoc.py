"""The human-readable side of policy as code: one Markdown page of what is allowed.

The page is derived, not written: who may do what where comes from asking the engine over
every role × zone × action, so it cannot drift from the policies that actually decide.
It documents acceptable use first (what each role may do, which data goes where, which
model flavors are approved) and only then the refusals and how to ask for an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from leanops.policy import ACTION_GROUPS, PolicyEngine, PolicyInfo, PolicyRequest, Resource, Role
from leanops.zones import ZONE_ORDER, Zone, ZoneRules

# Data classes from least to most sensitive, as datasets and runs are labelled.
DATA_CLASSES: tuple[str, ...] = ("public", "internal", "confidential", "sensitive")

APPROVED_FLAVORS: dict[str, str] = {
    "sklearn": "scikit-learn estimators and pipelines, saved with skops (never pickle)",
    "python-function": "a plain Python `predict` callable shipped with its code and pinned deps",
}

# The resource type an action is naturally done to, so `own` probes use a sensible entity.
_RESOURCE_BY_NOUN = {
    "dataset": "Dataset",
    "run": "Run",
    "job": "Job",
    "model": "ModelVersion",
    "deploy": "Deployment",
    "deployment": "Deployment",
    "token": "Token",
    "budget": "Budget",
    "cost": "Budget",
    "policy": "Policy",
    "user": "User",
    "audit": "Project",
    "project": "Project",
    "gc": "Project",
}
_PROBE_USER = "someone"
_OTHER_USER = "someone-else"
# The request every zone rule is met by (approved, tagged, complete, allowlisted, not sensitive).
# A request that meets every condition a guard or gate establishes, so the matrix shows role rights.
_COMPLIANT = {
    "approved": True,
    "metadata_complete": True,
    "tagged": True,
    "source_allowed": True,
    "cleared": True,
    "independent_approver": True,
}


def render_policy_doc(
    engine: PolicyEngine,
    zones: Mapping[Zone, ZoneRules],
    escalation: str,
    *,
    data_classes: Sequence[str] = DATA_CLASSES,
    flavors: Mapping[str, str] = APPROVED_FLAVORS,
) -> str:
    """Markdown: what each role may do per zone, data classes, flavors, zones, escalation, policies.

    `engine` needs `decide`; its `policies()` (if it has one) fills the policy list.
    """
    order = [z for z in ZONE_ORDER if z in zones] + [z for z in zones if z not in ZONE_ORDER]
    policies: list[PolicyInfo] = list(getattr(engine, "policies", list)())
    out = [
        "# What is allowed",
        "",
        "Generated from the active policies by `leanops policy doc`. Anything not listed here is "
        "refused (deny by default), and every refusal names the policy that decided it.",
        "",
        *_roles_section(engine, order),
        *_refusals_section(policies),
        *_data_section(engine, order, zones, data_classes),
        *_flavors_section(flavors),
        *_zones_section(order, zones),
        *_escalation_section(escalation),
        *_policies_section(policies),
    ]
    return "\n".join(out).rstrip() + "\n"


# -- sections ----------------------------------------------------------------------------


def _roles_section(engine: PolicyEngine, order: list[Zone]) -> list[str]:
    lines = [
        "## Who may do what, where",
        "",
        "Roles nest: " + " < ".join(f"`{r}`" for r in Role) + "; each holds everything the ones "
        "before it hold. A cell lists what a role may do in a zone for a request that meets the "
        "zone's rules (see *Always refused*); *(own)* means only on resources the user owns, "
        "*(others')* only on resources someone else owns.",
        "",
        "| role | " + " | ".join(str(z) for z in order) + " |",
        "|---|" + "---|" * len(order),
    ]
    for role in Role:
        cells = [_cell(engine, role, zone) for zone in order]
        lines.append(f"| `{role}` | " + " | ".join(cells) + " |")
    groups = "; ".join(f"**{g}**: " + ", ".join(f"`{a}`" for a in actions) for g, actions in ACTION_GROUPS.items())
    return [*lines, "", f"Action groups — {groups}.", ""]


def _refusals_section(policies: list[PolicyInfo]) -> list[str]:
    forbids = [p for p in policies if p.effect == "forbid"]
    if not forbids:
        return []
    lines = [
        "## Always refused, whatever the role",
        "",
        "A matching `forbid` wins over every permit; only an exception (below) lifts one.",
        "",
    ]
    return [*lines, *(f"- {p.comment or 'No reason given.'} (`{p.id}`)" for p in forbids), ""]


def _data_section(
    engine: PolicyEngine, order: list[Zone], zones: Mapping[Zone, ZoneRules], classes: Sequence[str]
) -> list[str]:
    lines = ["## Data classes per zone", "", "| zone | may use | refused |", "|---|---|---|"]
    for zone in order:
        allowed = [c for c in classes if _data_allowed(engine, zone, zones[zone], c)]
        refused = [c for c in classes if c not in allowed]
        lines.append(f"| {zone} | {_codes(allowed)} | {_codes(refused)} |")
    note = (
        "Sensitive data also needs a clearance the person holds for the zone (`leanops users clear NAME "
        "--in-zone ZONE`): access follows the principal, not the zone named."
    )
    return [*lines, "", note, ""]


def _flavors_section(flavors: Mapping[str, str]) -> list[str]:
    lines = ["## Approved model flavors", "", "Models are registered in one of these flavors:", ""]
    return [*lines, *(f"- `{name}` — {why}" for name, why in flavors.items()), ""]


def _zones_section(order: list[Zone], zones: Mapping[Zone, ZoneRules]) -> list[str]:
    lines = ["## Environments", ""]
    for zone in order:
        lines.append(f"- **{zone}**: " + "; ".join(_rules_in_words(zones[zone])) + ".")
    return [*lines, ""]


def _escalation_section(escalation: str) -> list[str]:
    return [
        "## When a policy says no",
        "",
        escalation.strip() or "Ask an admin.",
        "",
        "An admin can grant a time-boxed, audited exception for one principal and one action; it "
        "ends by itself (at most 30 days) or when revoked:",
        "",
        "```",
        "leanops policy exception grant --principal <user> --action <action> "
        '--resource <Type:id> --expires 7d --reason "<why>"',
        "leanops policy exception list",
        "leanops policy exception revoke <id>",
        "```",
        "",
        "`leanops policy explain` shows the decision for one request and the policies that made it.",
        "",
    ]


def _policies_section(policies: list[PolicyInfo]) -> list[str]:
    if not policies:
        return []
    lines = ["## Active policies", "", "| id | effect | why | where |", "|---|---|---|---|"]
    for p in policies:
        lines.append(f"| `{p.id}` | {p.effect} | {_cell_text(p.comment)} | {Path(p.file).name}:{p.line} |")
    return [*lines, ""]


# -- probing the engine ------------------------------------------------------------------


def _allowed(
    engine: PolicyEngine,
    role: Role | None,
    zone: Zone,
    action: str,
    owner: str,
    context: dict[str, object],
) -> bool:
    noun = action.split(".")[0]
    rtype = _RESOURCE_BY_NOUN.get(noun, "Project")
    rid = owner if rtype == "User" else f"{noun}-1"
    request = PolicyRequest(
        principal=_PROBE_USER,
        roles=[role] if role else [],
        action=action,
        resource=Resource(type=rtype, id=rid, owner=owner),
        zone=zone,
        context=dict(context),
    )
    return engine.decide(request).allowed


def _cell(engine: PolicyEngine, role: Role, zone: Zone) -> str:
    """One matrix cell: whole groups in bold, otherwise the allowed actions with their scope."""
    parts: list[str] = []
    for group, actions in ACTION_GROUPS.items():
        scopes: dict[str, str] = {}
        for action in actions:
            own = _allowed(engine, role, zone, action, _PROBE_USER, _COMPLIANT)
            others = _allowed(engine, role, zone, action, _OTHER_USER, _COMPLIANT)
            if own or others:
                scopes[action] = "" if own and others else " (own)" if own else " (others')"
        if len(scopes) == len(actions) and len(set(scopes.values())) == 1:
            parts.append(f"**{group}**{next(iter(scopes.values()))}")
        elif scopes:
            parts.append(f"{group}: " + ", ".join(f"`{a}`{s}" for a, s in scopes.items()))
    return "<br>".join(parts) or "—"


def _data_allowed(engine: PolicyEngine, zone: Zone, rules: ZoneRules, data_class: str) -> bool:
    """May the most trusted role read data of this class here, under both policy and zone rule?"""
    if data_class == "sensitive" and not rules.allow_sensitive_data:
        return False
    context = _COMPLIANT | {"data_class": data_class}
    return _allowed(engine, Role.ADMIN, zone, "dataset.read", _PROBE_USER, context)


def _rules_in_words(rules: ZoneRules) -> list[str]:
    words = ["sensitive data allowed" if rules.allow_sensitive_data else "no sensitive data"]
    if rules.required_tags:
        words.append("every resource tagged " + ", ".join(f"`{t}`" for t in rules.required_tags))
    if rules.requires_complete_metadata:
        words.append("runs carry every required metadata field")
    if rules.requires_approval:
        words.append("a recorded human approval before a deploy")
    if rules.requires_rollback_target:
        words.append("a previous approved version to roll back to")
    if rules.hard_ceiling:
        words.append("work stops once the zone's budget is spent")
    return words


def _codes(items: Sequence[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) or "—"


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|") or "—"
