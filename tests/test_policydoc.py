"""The generated "what is allowed" page follows the policies, not a hand-kept list."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanops.adapters.cedar import CedarPolicyEngine
from leanops.policy import PolicyDecision, PolicyRequest
from leanops.policydoc import render_policy_doc
from leanops.zones import Zone, ZoneRules, default_zone_rules

ESCALATION = "Ask an admin for a time-boxed exception: leanops policy exception grant"


@pytest.fixture(scope="module")
def page() -> str:
    return render_policy_doc(CedarPolicyEngine.load([]), default_zone_rules(), ESCALATION)


def row(page: str, first_cell: str) -> list[str]:
    line = next(ln for ln in page.splitlines() if ln.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_sections_in_order(page: str) -> None:
    headings = [ln for ln in page.splitlines() if ln.startswith("#")]
    assert headings == [
        "# What is allowed",
        "## Who may do what, where",
        "## Always refused, whatever the role",
        "## Data classes per zone",
        "## Approved model flavors",
        "## Environments",
        "## When a policy says no",
        "## Active policies",
    ]


def test_matrix_is_derived_from_decisions(page: str) -> None:
    viewer, developer = row(page, "`viewer`"), row(page, "`developer`")
    approver, admin = row(page, "`approver`"), row(page, "`admin`")
    assert all(cell.startswith("**read**") and "**credentials** (own)" in cell for cell in viewer)
    assert "**write**" in developer[0] and "**write** (own)" in developer[1] and "write" not in developer[2]
    assert all("**write**" in c and "`model.approve` (others')" in c and "`deploy`" in c for c in approver)
    assert all("**admin**" in c for c in admin) and not any("**admin**" in c for c in approver)


def test_data_classes_and_zone_rules(page: str) -> None:
    assert row(page, "sandbox")[:2] == ["`public`, `internal`, `confidential`", "`sensitive`"]
    assert row(page, "production")[1] == "—"
    assert "- **sandbox**: no sensitive data; work stops once the zone's budget is spent." in page
    assert "a recorded human approval before a deploy" in page.split("- **production**")[1]


def test_flavors_escalation_and_policy_list(page: str) -> None:
    assert "- `sklearn` — " in page and "skops" in page and "- `python-function` — " in page
    assert ESCALATION in page
    assert "leanops policy exception grant --principal <user>" in page and "--expires 7d --reason" in page
    for policy in CedarPolicyEngine.load([]).policies():
        assert f"| `{policy.id}` | {policy.effect} | {policy.comment} |" in page
    assert "- Four eyes: nobody approves their own model. (`no-self-approval`)" in page


def test_project_policies_change_the_page(tmp_path: Path) -> None:
    (tmp_path / "p.cedar").write_text(
        '// Viewers may cancel any job in the sandbox.\n@id("viewers-cancel")\n'
        'permit (principal in Role::"viewer", action == Action::"job.cancel", resource)\n'
        'when { context.zone == "sandbox" };\n'
    )
    page = render_policy_doc(CedarPolicyEngine.load([tmp_path]), default_zone_rules(), ESCALATION)
    assert "write: `job.cancel`" in row(page, "`viewer`")[0]
    assert "| `viewers-cancel` | permit | Viewers may cancel any job in the sandbox. | p.cedar:2 |" in page


def test_any_engine_with_decide_will_do() -> None:
    class Nobody:
        def decide(self, request: PolicyRequest) -> PolicyDecision:
            return PolicyDecision(allowed=False)

    page = render_policy_doc(Nobody(), {Zone.SANDBOX: ZoneRules(allow_sensitive_data=True)}, "")
    assert row(page, "`admin`") == ["—"]
    assert "## Active policies" not in page and "Ask an admin." in page
    assert row(page, "sandbox")[0] == "—"
