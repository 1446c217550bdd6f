"""The Cedar engine: every default rule allows and refuses, project files load or are pinpointed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cedarpy
import pytest

from leanops.adapters.cedar import DEFAULT_BUNDLE, SCHEMA_FILE, CedarPolicyEngine
from leanops.errors import ConfigError
from leanops.policy import ACTION_GROUPS, ACTIONS, PolicyDecision, PolicyRequest, Resource, Role
from leanops.zones import Zone

V, D, A, AD = Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN
ME, OTHER = "alice", "bob"


@pytest.fixture(scope="module")
def engine() -> CedarPolicyEngine:
    return CedarPolicyEngine.load([])


def ask(
    engine: CedarPolicyEngine,
    roles: list[Role],
    action: str,
    zone: str = "sandbox",
    *,
    owner: str = OTHER,
    rtype: str = "Run",
    attrs: dict[str, Any] | None = None,
    **context: Any,
) -> PolicyDecision:
    resource = Resource(type=rtype, id="x1", owner=owner, attrs=attrs or {})
    return engine.decide(
        PolicyRequest(
            principal=ME,
            roles=roles,
            action=action,
            resource=resource,
            zone=Zone(zone),
            context=context,
        )
    )


def allowed_by(decision: PolicyDecision, *ids: str) -> bool:
    return decision.allowed and set(ids) <= set(decision.policy_ids) and not decision.errors


def denied_by(decision: PolicyDecision, policy_id: str | None) -> bool:
    """Refused, by that forbid policy (or, with None, because nothing permits it)."""
    expected = [policy_id] if policy_id else []
    return not decision.allowed and decision.policy_ids == expected and not decision.errors


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_error(paths: list[Path]) -> str:
    with pytest.raises(ConfigError) as info:
        CedarPolicyEngine.load(paths)
    return info.value.message


# --- every default rule: one allow, one deny ---------------------------------------------


def test_viewers_read(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [V], "model.read", "production"), "viewers-read")
    assert denied_by(ask(engine, [V], "run.create"), None)


def test_developers_sandbox(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [D], "run.create", "sandbox"), "developers-sandbox")
    assert denied_by(ask(engine, [D], "run.create", "staging"), None)


def test_developers_own_work(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [D], "model.register", "staging", owner=ME), "developers-own-work")
    assert denied_by(ask(engine, [D], "model.register", "production", owner=ME), None)


def test_developers_promote_own_to_staging(engine) -> None:  # noqa: ANN001
    rule = "developers-promote-own-to-staging"
    assert allowed_by(ask(engine, [D], "model.promote", "staging", owner=ME, rtype="ModelVersion"), rule)
    assert denied_by(ask(engine, [D], "model.promote", "staging", owner=OTHER, rtype="ModelVersion"), None)
    assert not ask(engine, [D], "model.promote", "production", owner=ME, rtype="ModelVersion", approved=True).allowed


def test_approvers_release(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [A], "model.rollback", "production"), "approvers-release")
    assert allowed_by(ask(engine, [A], "job.run", "production"), "approvers-release")
    assert denied_by(ask(engine, [D], "model.rollback", "sandbox", owner=ME), None)


def test_only_approvers_promote_to_production(tmp_path: Path) -> None:
    # A project may let developers release; production still needs an approver.
    write(
        tmp_path,
        "release.cedar",
        '@id("devs-release")\npermit (principal in Role::"developer", action in Action::"release", resource);\n',
    )
    engine = CedarPolicyEngine.load([tmp_path])
    assert allowed_by(ask(engine, [D], "deploy", "staging"), "devs-release")
    assert denied_by(
        ask(engine, [D], "deploy", "production", approved=True),
        "only-approvers-promote-to-production",
    )
    assert allowed_by(ask(engine, [A], "deploy", "production", approved=True), "approvers-release")


def test_production_deploy_needs_approval(engine) -> None:  # noqa: ANN001
    assert denied_by(ask(engine, [A], "model.promote", "production"), "production-deploy-needs-approval")
    assert allowed_by(ask(engine, [A], "model.promote", "production", approved=True), "approvers-release")
    assert allowed_by(ask(engine, [A], "deploy", "staging"), "approvers-release")


def test_no_self_approval(engine) -> None:  # noqa: ANN001
    assert denied_by(
        ask(engine, [AD], "model.approve", "staging", owner=ME, rtype="ModelVersion", independent_approver=True),
        "no-self-approval",
    )
    assert allowed_by(
        ask(engine, [A], "model.approve", "staging", owner=OTHER, rtype="ModelVersion", independent_approver=True),
        "approvers-release",
    )


def test_four_eyes_independent_approver(engine) -> None:  # noqa: ANN001
    """The guard works out independence (no sock puppet, no service account, no owner-minted token)."""
    refused = ask(engine, [AD], "model.approve", "staging", owner=OTHER, rtype="ModelVersion")
    assert denied_by(refused, "four-eyes-independent-approver")
    assert ask(engine, [A], "model.read", "staging", owner=OTHER, rtype="ModelVersion").allowed


@pytest.mark.parametrize("action", ["dataset.read", "run.create", "job.run"])
def test_sensitive_data_needs_clearance(engine, action: str) -> None:  # noqa: ANN001
    assert denied_by(ask(engine, [AD], action, "staging", data_class="sensitive"), "sensitive-data-needs-clearance")
    assert ask(engine, [A], action, "staging", data_class="sensitive", cleared=True).allowed
    assert ask(engine, [A], action, "staging", data_class="internal").allowed


@pytest.mark.parametrize("action", ["dataset.read", "run.create", "job.run"])
def test_sandbox_no_sensitive_data(engine, action: str) -> None:  # noqa: ANN001
    refused = ask(engine, [AD], action, "sandbox", data_class="sensitive", cleared=True)
    assert denied_by(refused, "sandbox-no-sensitive-data")
    assert ask(engine, [D], action, "sandbox", data_class="internal").allowed
    assert ask(engine, [A], action, "staging", data_class="sensitive", cleared=True).allowed


def test_sources_on_allowlist(engine) -> None:  # noqa: ANN001
    denied = ask(engine, [D], "dataset.register", rtype="Dataset", source_allowed=False)
    assert denied_by(denied, "sources-on-allowlist")
    assert allowed_by(
        ask(engine, [D], "dataset.register", rtype="Dataset", source_allowed=True),
        "developers-sandbox",
    )


@pytest.mark.parametrize("action", ["run.create", "model.register"])
def test_production_needs_complete_metadata(engine, action: str) -> None:  # noqa: ANN001
    assert denied_by(
        ask(engine, [A], action, "production", metadata_complete=False),
        "production-needs-complete-metadata",
    )
    assert allowed_by(ask(engine, [A], action, "production", metadata_complete=True), "approvers-release")
    assert ask(engine, [A], action, "staging", metadata_complete=False).allowed


def test_promotion_needs_complete_metadata_too(engine) -> None:  # noqa: ANN001
    decision = ask(engine, [A], "model.promote", "production", approved=True, metadata_complete=False)
    assert denied_by(decision, "production-needs-complete-metadata")


def test_production_needs_tags(engine) -> None:  # noqa: ANN001
    assert denied_by(ask(engine, [AD], "job.run", "production", tagged=False), "production-needs-tags")
    assert allowed_by(ask(engine, [A], "job.run", "production", tagged=True), "approvers-release")
    assert ask(engine, [D], "job.run", "sandbox", tagged=False).allowed


def test_admins_administer(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [AD], "user.manage", rtype="User"), "admins-administer")
    assert allowed_by(ask(engine, [AD], "token.create", rtype="Token", owner="ci-bot"), "admins-administer")
    assert denied_by(ask(engine, [A], "budget.set", "production", rtype="Budget"), None)


def test_tokens_own(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [V], "token.create", "production", rtype="Token", owner=ME), "tokens-own")
    assert allowed_by(ask(engine, [V], "token.revoke", rtype="Token", owner=ME), "tokens-own")
    # Sandbox write rights do not reach credentials: nobody but an admin mints someone else's.
    assert denied_by(ask(engine, [D], "token.create", "sandbox", rtype="Token", owner=OTHER), None)
    assert denied_by(ask(engine, [A], "token.revoke", "sandbox", rtype="Token", owner=OTHER), None)


def test_every_default_rule_is_tested() -> None:
    names = {n.removeprefix("test_").replace("_", "-") for n in globals() if n.startswith("test_")}
    ids = {p.id for p in CedarPolicyEngine.load([]).policies()}
    assert ids <= names, f"untested rules: {sorted(ids - names)}"


# --- deny by default, nesting, inputs ----------------------------------------------------


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_no_role_is_denied_everything(engine, action: str) -> None:  # noqa: ANN001
    facts = {"approved": True, "cleared": True, "independent_approver": True}
    assert denied_by(ask(engine, [], action, owner=OTHER, **facts), None)
    assert not ask(engine, [], action, owner=ME, **facts).allowed


def test_unknown_action_and_resource_type_are_refused_with_an_error(engine) -> None:  # noqa: ANN001
    unknown = ask(engine, [AD], "model.eat")
    assert not unknown.allowed and "unknown action" in unknown.errors[0]
    bad_type = ask(engine, [AD], "run.read", rtype="Spaceship")
    assert not bad_type.allowed and "unknown resource type" in bad_type.errors[0]


def test_roles_nest(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [AD], "run.read"), "viewers-read")
    assert allowed_by(ask(engine, [AD], "run.create", "sandbox"), "developers-sandbox", "approvers-release")
    assert allowed_by(ask(engine, [AD], "deploy", "production", approved=True), "approvers-release")
    assert allowed_by(
        ask(engine, [A], "run.create", "staging", owner=ME),
        "developers-own-work",
        "approvers-release",
    )
    assert not ask(engine, [D], "deploy", "staging").allowed
    assert not ask(engine, [V], "run.create").allowed


def test_several_roles_add_up(engine) -> None:  # noqa: ANN001
    assert allowed_by(ask(engine, [V, A], "deploy", "staging"), "approvers-release")


def test_deciding_ids_come_in_policy_order(engine) -> None:  # noqa: ANN001
    decision = ask(engine, [AD], "run.create", "sandbox", owner=ME)
    assert decision.policy_ids == ["developers-sandbox", "developers-own-work", "approvers-release"]


def test_unknown_context_key_is_an_error_not_ignored(engine) -> None:  # noqa: ANN001
    decision = ask(engine, [AD], "run.read", tagd=False)
    assert not decision.allowed and "tagd" in decision.errors[0]


def test_resource_attrs_are_checked_and_unknown_ones_ignored(engine) -> None:  # noqa: ANN001
    assert ask(
        engine,
        [V],
        "run.read",
        attrs={"zone": "sandbox", "data_class": "public", "flavor": "sklearn"},
    ).allowed
    bad = ask(engine, [V], "run.read", attrs={"zone": 3})
    assert not bad.allowed and "zone" in bad.errors[0]


def test_user_resources_own_themselves(engine) -> None:  # noqa: ANN001
    request = PolicyRequest(
        principal=ME,
        roles=[V],
        action="token.create",
        zone=Zone.SANDBOX,
        resource=Resource(type="User", id=ME),
    )
    assert engine.decide(request).allowed
    assert not engine.decide(request.model_copy(update={"resource": Resource(type="User", id=OTHER)})).allowed


def test_cached_entities_never_leak_between_requests(engine) -> None:  # noqa: ANN001
    for _ in range(3):
        assert ask(engine, [D], "run.create", "staging", owner=ME).allowed
        assert not ask(engine, [D], "run.create", "staging", owner=OTHER).allowed
        assert not ask(engine, [V], "run.create", "staging", owner=ME).allowed


# --- the shipped files -------------------------------------------------------------------


def test_schema_actions_mirror_action_groups() -> None:
    rendered = str(cedarpy.Schema.from_str(SCHEMA_FILE.read_text()))
    declared = dict(re.findall(r'action "([^"]+)" in \[Action::"([^"]+)"\]', rendered))
    assert declared == ACTIONS
    groups = set(re.findall(r'^action "([^"]+)";', rendered, re.M))
    assert groups == set(ACTION_GROUPS)


def test_every_default_policy_has_an_id_and_a_reason(engine) -> None:  # noqa: ANN001
    infos = engine.policies()
    assert len(infos) == len(re.findall(r"^(permit|forbid)", DEFAULT_BUNDLE.read_text(), re.M))
    for info in infos:
        assert not re.fullmatch(r"policy\d+", info.id) and info.comment, info
        assert info.file == "leanops/policies/default.cedar" and info.effect in ("permit", "forbid")
        assert info.source.startswith(f'@id("{info.id}")') and info.source.endswith(";")


def test_default_bundle_is_valid(engine) -> None:  # noqa: ANN001
    assert engine.check() == []
    assert CedarPolicyEngine.check_paths([]) == []


# --- project policies --------------------------------------------------------------------


def test_project_policies_extend_the_bundle(tmp_path: Path) -> None:
    write(
        tmp_path,
        "team/extra.cedar",
        "// Viewers may log to their own runs in the sandbox.\n"
        '@id("viewers-log-own")\n'
        'permit (principal in Role::"viewer", action == Action::"run.log", resource)\n'
        'when { resource.owner == principal.name && context.zone == "sandbox" };\n',
    )
    engine = CedarPolicyEngine.load([tmp_path, tmp_path / "missing"])
    assert allowed_by(ask(engine, [V], "run.log", owner=ME), "viewers-log-own")
    assert not ask(engine, [V], "run.log", owner=OTHER).allowed
    info = engine.policies()[-1]
    assert (info.id, info.file, info.line) == (
        "viewers-log-own",
        str(tmp_path / "team/extra.cedar"),
        2,
    )
    assert info.comment == "Viewers may log to their own runs in the sandbox."


def test_project_forbid_beats_default_permits(tmp_path: Path) -> None:
    write(
        tmp_path,
        "freeze.cedar",
        '@id("release-freeze")\n'
        'forbid (principal, action in Action::"release", resource)\n'
        'when { context.zone == "production" };\n',
    )
    engine = CedarPolicyEngine.load([tmp_path / "freeze.cedar"])
    assert denied_by(ask(engine, [AD], "deploy", "production", approved=True), "release-freeze")


def test_missing_folder_means_defaults_only(tmp_path: Path) -> None:
    assert len(CedarPolicyEngine.load([tmp_path / "nope"]).policies()) == len(CedarPolicyEngine.load([]).policies())


def test_policy_without_id_gets_cedars_id_and_keeps_its_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "anon.cedar",
        'permit (principal in Role::"viewer", action == Action::"job.cancel", resource);\n',
    )
    engine = CedarPolicyEngine.load([tmp_path])
    decision = ask(engine, [V], "job.cancel")
    info = engine.policies()[-1]
    assert decision.allowed and decision.policy_ids == [info.id] and re.fullmatch(r"policy\d+", info.id)
    assert info.file == str(path)


def test_parse_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.cedar",
        '// fine\n@id("fine")\n'
        'permit (principal in Role::"viewer", action == Action::"run.log", resource);\n\n'
        '@id("typo")\npermit (principal, action, resource)\n  when { context.zone = "sandbox" };\n',
    )
    message = load_error([tmp_path])
    assert f"{path}:7:23: '=' is not a valid operator in Cedar" in message


def test_parse_error_points_at_the_offending_occurrence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.cedar",
        '@id("a")\npermit (principal in Role::"viewer", action\n  action, resource);\n',
    )
    assert f"{path}:3:3: unexpected token `action`" in load_error([path])


def test_unclosed_string_and_missing_semicolon(tmp_path: Path) -> None:
    unclosed = write(
        tmp_path,
        "a.cedar",
        'permit (principal, action, resource)\nwhen { context.zone == "sandbox };\n',
    )
    unfinished = write(tmp_path, "b.cedar", '@id("x")\npermit (principal, action, resource)')
    problems = CedarPolicyEngine.check_paths([tmp_path])
    assert [str(p) for p in problems] == [
        f"{unclosed}:2:24: invalid token (a string is not closed)",
        f"{unfinished}:2:37: unexpected end of input",
    ]


def test_unknown_entity_type_is_a_validation_error_with_its_spot(tmp_path: Path) -> None:
    path = write(tmp_path, "p.cedar", '\n\n@id("robots")\npermit (principal is Robot, action, resource);\n')
    message = load_error([tmp_path])
    assert f"{path}:4:22: " in message and "Robot" in message


def test_unknown_attribute_is_a_validation_error_with_its_spot(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.cedar",
        '@id("owners")\npermit (principal, action in Action::"read", resource)\n'
        "when { resource.ownr == principal.name };\n",
    )
    problems = CedarPolicyEngine.check_paths([tmp_path])
    assert len(problems) == 1  # reported once, not once per entity type
    assert (problems[0].file, problems[0].line, problems[0].column) == (str(path), 3, 17)
    assert 'in policy "owners"' in problems[0].message and "`ownr`" in problems[0].message


def test_unknown_context_key_in_a_policy_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "p.cedar", "forbid (principal, action, resource) when { context.weekend };\n")
    assert "weekend" in load_error([tmp_path])


def test_ids_must_not_clash_with_defaults_or_each_other(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.cedar",
        '// mine\n@id("viewers-read")\npermit (principal, action == Action::"run.read", resource);\n',
    )
    b = write(
        tmp_path,
        "b.cedar",
        '@id("dup")\npermit (principal, action == Action::"run.read", resource);\n'
        '  @id("dup") forbid (principal, action == Action::"run.log", resource);\n',
    )
    problems = [str(p) for p in CedarPolicyEngine.check_paths([tmp_path])]
    assert problems == [
        f'{a}:2:1: policy id "viewers-read" is already used at leanops/policies/default.cedar:5:1',
        f'{b}:3:3: policy id "dup" is already used at {b}:1:1',
    ]


def test_check_reports_every_problem_and_load_raises_them_all(tmp_path: Path) -> None:
    write(tmp_path, "one.cedar", "permit (principal, action, resource) whenn { true };\n")
    write(tmp_path, "two.cedar", "permit (principal is Robot, action, resource);\n")
    problems = CedarPolicyEngine.check_paths([tmp_path])
    assert [(Path(p.file).name, p.line, p.column) for p in problems] == [("one.cedar", 1, 38)]
    # Parse errors stop before validation, so the second file shows up once the first is fixed.
    write(tmp_path, "one.cedar", "permit (principal, action, resource) when { true };\n")
    problems = CedarPolicyEngine.check_paths([tmp_path])
    assert [Path(p.file).name for p in problems] == ["two.cedar", "two.cedar"]
    with pytest.raises(ConfigError) as info:
        CedarPolicyEngine.load([tmp_path])
    assert info.value.exit_code == 2 and len(info.value.details["problems"]) == 2
    assert all(str(p) in info.value.message for p in problems)


def test_engine_check_rereads_its_files(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.cedar",
        '@id("ok")\npermit (principal, action == Action::"run.read", resource);\n',
    )
    engine = CedarPolicyEngine.load([tmp_path])
    assert engine.check() == []
    path.write_text('@id("ok")\npermit (principal, action == Action::"run.read", resource)\n')
    assert [(p.line, p.message) for p in engine.check()] == [(2, "unexpected end of input")]
    assert ask(engine, [], "run.read").allowed  # the loaded bundle is untouched until reloaded
