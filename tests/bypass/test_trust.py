"""The bypass suite for the trust boundary: a team member who wants around the guardrails.

Each test is an attack that used to work: acting as someone else by name, naming a zone to
reach sensitive data, writing through the raw store, approving with a sock puppet, racing the
first bootstrap, rewriting the audit log with database access, or waiving four-eyes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, select, update

from leanops.adapters.memory import FixedClock
from leanops.adapters.sql.tables import audit_head, audit_log
from leanops.audit import canonical
from leanops.errors import AuthenticationError, PolicyDenied
from leanops.identity import Mode, PrincipalKind
from leanops.policy import Resource, Role
from leanops.workspace import Workspace
from leanops.zones import Zone

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def team(ws: Workspace, as_user):  # noqa: ANN001, ANN201
    """alice admin; bob developer; carol approver; vic viewer."""
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.users.add("carol", roles=[Role.APPROVER])
    ws.users.add("vic", roles=[Role.VIEWER])
    return {"alice": ws, "bob": as_user("bob"), "carol": as_user("carol"), "vic": as_user("vic")}


def _attacker(ws: Workspace):  # noqa: ANN202
    """What someone holding the database credentials sees: the tables, not leanops."""
    return create_engine(ws.settings.store_url)


def _version(owner: str) -> Resource:
    return Resource(type="ModelVersion", id="churn/1", owner=owner)


# --- identity ------------------------------------------------------------------------------------


def test_a_name_alone_is_not_an_identity(team, as_user) -> None:  # noqa: ANN001
    """LEANOPS_USER=carol used to act as carol; now a name is trusted only for local mode's one person."""
    settings = team["alice"].settings
    impostor = Workspace(settings, store=team["alice"]._store, user="carol")
    with pytest.raises(AuthenticationError):
        impostor.models.list()
    assert team["alice"].mode in (Mode.LOCAL, Mode.TEAM)


def test_team_mode_refuses_every_name_even_the_admins(ws: Workspace) -> None:
    ws.enable_team_mode() if ws.mode is Mode.LOCAL else None
    admin_by_name = Workspace(ws.settings, store=ws._store, user=ws.actor.name)
    with pytest.raises(AuthenticationError, match="team mode"):
        admin_by_name.audit.tail()


def test_team_mode_cannot_be_switched_off_by_config_or_environment(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ws.mode is Mode.LOCAL:
        ws.enable_team_mode()
    monkeypatch.delenv("LEANOPS_TOKEN", raising=False)
    monkeypatch.setenv("LEANOPS_USER", ws.actor.name)
    monkeypatch.setenv("LEANOPS_MODE", "local")
    with pytest.raises(AuthenticationError):
        Workspace(ws.settings, store=ws._store).users.list()


def test_postgres_stores_are_always_team_stores(project: Path, pg_url: str) -> None:
    from leanops.config import load_settings
    from leanops.errors import ConfigError

    settings = load_settings(project)
    settings.store.url = pg_url
    with Workspace(settings) as ws:
        with pytest.raises(ConfigError, match="local mode is for a SQLite file"):
            ws.bootstrap(mode="local")
        assert ws.bootstrap() and ws.mode is Mode.TEAM and ws.issued_token


def test_a_zone_limited_token_holds_nothing_elsewhere(team, as_user) -> None:  # noqa: ANN001
    issued = team["alice"].users.create_token("carol", zones=[Zone.STAGING])
    carol = as_user(token=issued.plaintext)
    assert carol.actor.roles_in(Zone.STAGING) == [Role.APPROVER]
    assert carol.actor.roles_in(Zone.PRODUCTION) == []
    with pytest.raises(PolicyDenied, match="no role"):
        carol._guard.check("model.promote", _version("bob"), zone=Zone.PRODUCTION, context={"approved": True})
    with pytest.raises(PolicyDenied, match="cannot mint"):
        carol.users.create_token(zones=[Zone.PRODUCTION])


def test_naming_a_zone_does_not_open_sensitive_data(team, as_user) -> None:  # noqa: ANN001
    """`LEANOPS_ZONE=staging data checkout pii` by a viewer: staging does not forbid it, the clearance rule does."""
    pii = Resource(type="Dataset", id="pii", owner="alice")
    vic = as_user("vic", zone="staging")
    with pytest.raises(PolicyDenied, match="sensitive-data-needs-clearance"):
        vic._guard.check("dataset.read", pii, context={"data_class": "sensitive"})
    team["alice"].users.clear("vic", "sensitive", Zone.STAGING)
    as_user("vic", zone="staging")._guard.check("dataset.read", pii, context={"data_class": "sensitive"})
    with pytest.raises(PolicyDenied, match="sandbox-no-sensitive-data"):
        as_user("vic")._guard.check("dataset.read", pii, context={"data_class": "sensitive"})
    cleared = team["alice"].audit.query(__import__("leanops.audit").audit.AuditFilter(action="user.manage"))
    assert any(r.details.get("op") == "clear" for r in cleared)


def test_the_sdk_exposes_services_not_the_store(ws: Workspace) -> None:
    assert not hasattr(ws, "store") and not hasattr(ws, "guard")
    assert not hasattr(ws.users, "guard") and not hasattr(ws.users._guard, "store")


def test_services_built_before_bootstrap_act_with_the_admin_roles(project: Path, store_url: str) -> None:
    from leanops.config import load_settings

    settings = load_settings(project)
    settings.store.url = store_url
    with Workspace(settings) as ws:
        users = ws.users  # built while nobody holds a role
        ws.bootstrap()
        users.add("bob", roles=[Role.DEVELOPER])
        assert [p.name for p, _ in users.list()] == ["alice", "bob"]


def _bootstrap(url: str, root: str, name: str, out: multiprocessing.Queue) -> None:
    from leanops.config import load_settings

    settings = load_settings(Path(root))
    settings.store.url = url
    with Workspace(settings, user=name) as ws:
        out.put((name, ws.bootstrap()))


def test_concurrent_first_bootstraps_make_exactly_one_admin(project: Path, store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_bootstrap, args=(store_url, str(project), f"admin{i}", out)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = [out.get(timeout=5) for _ in procs]
    assert sum(won for _, won in results) == 1
    engine = create_engine(store_url)
    with engine.connect() as conn:
        from leanops.adapters.sql.tables import principals, role_grants

        assert len(conn.execute(select(principals)).all()) == 1
        assert len(conn.execute(select(role_grants)).all()) == 1
    engine.dispose()


# --- four eyes -----------------------------------------------------------------------------------


def test_an_approver_the_owner_made_is_a_sock_puppet(team, as_user) -> None:  # noqa: ANN001
    team["alice"].users.add("alice2", roles=[Role.APPROVER])  # created and granted by alice
    with pytest.raises(PolicyDenied, match="four-eyes-independent-approver"):
        as_user("alice2")._guard.check("model.approve", _version("alice"))
    team["carol"]._guard.check("model.approve", _version("bob"))  # a second human: allowed


def test_a_service_account_is_not_a_second_pair_of_eyes(team, as_user) -> None:  # noqa: ANN001
    team["alice"].users.add("ci-bot", kind=PrincipalKind.SERVICE, roles=[Role.APPROVER])
    with pytest.raises(PolicyDenied, match="four-eyes-independent-approver"):
        as_user("ci-bot")._guard.check("model.approve", _version("bob"))


def test_a_token_the_owner_minted_is_not_a_second_pair_of_eyes(team, as_user) -> None:  # noqa: ANN001
    token = team["alice"].users.create_token("carol").plaintext  # alice (admin) impersonating carol
    with pytest.raises(PolicyDenied, match="four-eyes-independent-approver"):
        as_user(token=token)._guard.check("model.approve", _version("alice"))


def test_no_exception_waives_four_eyes_or_the_sandbox_rule(team) -> None:  # noqa: ANN001
    admin = team["alice"]
    admin.users.add("dora", roles=[Role.ADMIN])
    with pytest.raises(PolicyDenied, match="themself"):
        admin.governance.grant_exception("alice", "model.approve", expires=timedelta(hours=1), reason="me")
    admin.governance.grant_exception("bob", "model.approve", expires=timedelta(hours=1), reason="try")
    admin.governance.grant_exception("bob", "dataset.read", expires=timedelta(hours=1), reason="try")
    with pytest.raises(PolicyDenied, match="no-self-approval"):
        team["bob"]._guard.check("model.approve", _version("bob"))
    with pytest.raises(PolicyDenied, match="sandbox-no-sensitive-data"):
        team["bob"]._guard.check(
            "dataset.read", Resource(type="Dataset", id="pii", owner="bob"), context={"data_class": "sensitive"}
        )


# --- the audit log -------------------------------------------------------------------------------


def _rechain_with_sha256(conn) -> None:  # noqa: ANN001
    """Rebuild every record's hash and the head the way an attacker without the key can."""
    prev = "0" * 64
    for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings().all():
        body = {k: row[k] for k in ("actor", "action", "resource", "zone", "decision", "policy_ids", "request_id")}
        body |= {"details": row["details"], "at": str(row["at"]), "policy_bundle": row["policy_bundle"]}
        digest = hashlib.sha256(canonical({"seq": row["seq"], "prev": prev, "body": body}).encode()).hexdigest()
        conn.execute(update(audit_log).where(audit_log.c.seq == row["seq"]).values(prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(update(audit_head).values(hash=prev))


def test_renaming_an_approver_and_rechaining_is_caught(team) -> None:  # noqa: ANN001
    team["carol"]._guard.check("model.approve", _version("bob"))
    engine = _attacker(team["alice"])
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.actor == "carol").values(actor="dora"))
        _rechain_with_sha256(conn)
    engine.dispose()
    report = team["alice"].audit.verify()
    assert not report.ok and "MAC" in report.reason


def test_deleting_a_denial_and_rechaining_is_caught(team) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied):
        team["vic"].users.add("mallory", roles=[Role.ADMIN])
    engine = _attacker(team["alice"])
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.decision == "deny"))
        seqs = [r.seq for r in conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq))]
        for new, old in enumerate(seqs, start=1):
            conn.execute(update(audit_log).where(audit_log.c.seq == old).values(seq=new))
        conn.execute(update(audit_head).values(seq=len(seqs)))
        _rechain_with_sha256(conn)
    engine.dispose()
    assert not team["alice"].audit.verify().ok


def test_truncating_the_tail_and_rewinding_the_head_is_caught(team) -> None:  # noqa: ANN001
    engine = _attacker(team["alice"])
    with engine.begin() as conn:
        last = conn.execute(select(audit_head.c.seq)).scalar_one()
        conn.execute(delete(audit_log).where(audit_log.c.seq > last - 3))
        head = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == last - 3)).scalar_one()
        conn.execute(update(audit_head).values(seq=last - 3, hash=head))
    engine.dispose()
    report = team["alice"].audit.verify()
    assert not report.ok and "removed from the end" in report.reason
    assert not team["alice"].fsck().ok


def test_wiping_the_log_is_caught(team) -> None:  # noqa: ANN001
    engine = _attacker(team["alice"])
    with engine.begin() as conn:
        conn.execute(delete(audit_log))
        conn.execute(delete(audit_head))
    engine.dispose()
    report = team["alice"].audit.verify()
    assert not report.ok and "wiped" in report.reason


def test_a_forged_checkpoint_is_caught(team) -> None:  # noqa: ANN001
    anchor = Path(team["alice"]._checkpointer.anchor.location)
    line = json.loads(anchor.read_text().splitlines()[-1])
    line["seq"] += 100
    with anchor.open("a") as out:
        out.write(json.dumps(line) + "\n")
    report = team["alice"].audit.verify()
    assert not report.ok and "forged" in report.reason


def test_deleting_the_checkpoints_is_caught(team) -> None:  # noqa: ANN001
    Path(team["alice"]._checkpointer.anchor.location).unlink()
    assert "checkpoints were deleted" in team["alice"].audit.verify().reason


def test_deleting_the_key_does_not_downgrade_the_chain(team) -> None:  # noqa: ANN001
    from leanops.errors import IntegrityError

    key_file = Path(team["alice"].settings.resolve_path(team["alice"].settings.audit.key_file))
    key_file.unlink()
    fresh = Workspace(team["alice"].settings, store=team["alice"]._store)
    with pytest.raises(IntegrityError, match="audit key is missing"):
        fresh.audit.tail()


def test_a_clock_outside_utc_keeps_the_chain_intact(ws: Workspace) -> None:
    ws.clock = FixedClock(datetime(2026, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))))
    for key in ("_guard", "_checkpointer", "users", "audit"):
        ws.__dict__.pop(key, None)
    ws.users.add("bob", roles=[Role.VIEWER])
    assert ws.audit.verify().ok


def test_every_record_carries_the_policy_bundle(team) -> None:  # noqa: ANN001
    bundle = team["alice"].policy_engine.bundle_hash
    assert len(bundle) == 64
    assert all(r.policy_bundle == bundle for r in team["alice"].audit.tail(5))


# --- project policies ----------------------------------------------------------------------------

BROAD = "permit (principal, action, resource);\n"
NO_JOBS = '@id("no-jobs-for-vic")\nforbid (principal, action == Action::"job.read", resource)\nwhen { principal.name == "vic" };\n'


def _fresh(admin: Workspace, name: str) -> Workspace:
    """`name`'s workspace loading the policy files as they are now (not the admin's cached engine)."""
    token = admin._token if name == admin.actor.name else admin.users.create_token(name).plaintext
    return Workspace(admin.settings, store=admin._store, artifacts=admin.artifacts, token=token, user=name)


def test_a_dropped_in_permit_does_nothing_until_two_people_approve_it(team, as_user) -> None:  # noqa: ANN001
    """A developer wrote `permit(principal, action, resource);` into policies/ and made himself admin."""
    admin = team["alice"]
    (admin.settings.root / "policies" / "open.cedar").write_text('@id("open-door")\n' + BROAD)
    bob = _fresh(admin, "bob")
    with pytest.raises(PolicyDenied):
        bob.users.grant("bob", Role.ADMIN)
    assert [p.id for p in bob.governance.pending_permits()] == ["open-door"]
    with pytest.raises(PolicyDenied):
        bob.governance.approve_change("open-door")  # a developer cannot approve policy
    _, active = _fresh(admin, "alice").governance.approve_change("open-door")
    assert not active  # one admin alone is not enough
    with pytest.raises(PolicyDenied):
        _fresh(admin, "bob").users.grant("bob", Role.ADMIN)
    _, active = _fresh(admin, "carol").governance.approve_change("open-door")
    assert active
    _fresh(admin, "bob").users.grant("bob", Role.ADMIN)  # now in effect, as two people decided


def test_a_project_forbid_applies_at_once(team, as_user) -> None:  # noqa: ANN001
    (team["alice"].settings.root / "policies" / "no-jobs.cedar").write_text(NO_JOBS)
    with pytest.raises(PolicyDenied, match="no-jobs-for-vic"):
        _fresh(team["alice"], "vic").jobs.list()


@pytest.mark.parametrize("how", ["delete the file", "weaken it in place", "point policy.paths elsewhere"])
def test_removing_a_forbid_does_not_lift_it_until_two_people_approve(team, as_user, monkeypatch, how: str) -> None:  # noqa: ANN001
    admin = team["alice"]
    rule = admin.settings.root / "policies" / "no-jobs.cedar"
    rule.write_text(NO_JOBS)
    with pytest.raises(PolicyDenied, match="no-jobs-for-vic"):
        _fresh(admin, "vic").jobs.list()  # in force, and now known to the store
    if how == "delete the file":
        rule.unlink()
    elif how == "weaken it in place":
        rule.write_text(NO_JOBS.replace('"vic"', '"nobody"'))
    else:
        (admin.settings.root / "elsewhere").mkdir()
        monkeypatch.setattr(admin.settings.policy, "paths", ["elsewhere"])
    vic = _fresh(admin, "vic")
    with pytest.raises(PolicyDenied, match="no-jobs-for-vic"):
        vic.jobs.list()
    assert [f.id for f in vic.governance.retained_forbids()] == ["no-jobs-for-vic"]
    _, active = _fresh(admin, "alice").governance.approve_change("no-jobs-for-vic")
    assert not active
    _, active = _fresh(admin, "carol").governance.approve_change("no-jobs-for-vic")
    assert active
    assert _fresh(admin, "vic").jobs.list() == []  # lifted, as two people decided
    assert _fresh(admin, "vic").governance.retained_forbids() == []


def test_every_change_of_the_bundle_is_audited(team, as_user) -> None:  # noqa: ANN001
    before = team["alice"].policy_engine.bundle_hash
    (team["alice"].settings.root / "policies" / "more.cedar").write_text(
        '@id("no-gc")\nforbid (principal, action == Action::"gc.run", resource);\n'
    )
    bob = _fresh(team["alice"], "bob")
    bob.models.list()
    after = bob.policy_engine.bundle_hash
    (change,) = [r for r in team["alice"].audit.tail(30) if r.action == "policy.activate" and r.actor == "bob"]
    assert change.details["previous"] == before and change.details["bundle"] == after != before
    assert change.policy_bundle == after
