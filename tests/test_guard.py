"""The guard wiring and the bypass suite: nothing gets through that the policy refuses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from leanops.adapters.memory import FixedClock
from leanops.errors import AuthenticationError, NotFound, PolicyDenied, ValidationError
from leanops.identity import PrincipalKind
from leanops.policy import Resource, Role
from leanops.workspace import Workspace
from leanops.zones import Zone

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def team(ws: Workspace, as_user) -> Iterator[dict[str, Workspace]]:  # noqa: ANN001
    """alice admin; bob developer; carol approver; vic viewer; all sharing one fixed clock."""
    clock = FixedClock(T0)
    ws.clock = clock
    ws.__dict__.pop("_guard", None)
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.users.add("carol", roles=[Role.APPROVER])
    ws.users.add("vic", roles=[Role.VIEWER])
    yield {"alice": ws, "bob": as_user("bob"), "carol": as_user("carol"), "vic": as_user("vic"), "clock": clock}


def records(ws: Workspace, **flt: str):  # noqa: ANN201
    from leanops.audit import AuditFilter

    with ws._store.transaction() as unit:
        return unit.audit.query(AuditFilter(**flt))


def dataset(owner: str = "bob", **attrs: object) -> Resource:
    return Resource(type="Dataset", id="customers", owner=owner, attrs=attrs)


# --- the wiring --------------------------------------------------------------------------


def test_allowed_action_commits_with_its_audit_record(team) -> None:  # noqa: ANN001
    team["bob"]._guard.check("run.create", Resource(type="Run", id="r1", owner="bob"), details={"note": "x"})
    rec = records(team["alice"], action="run.create")[-1]
    assert (rec.actor, rec.decision, rec.zone, rec.resource) == ("bob", "allow", "sandbox", "Run:r1")
    assert rec.policy_ids and rec.details == {"note": "x"}


def test_failed_action_rolls_back_its_change_but_keeps_its_attempt(team) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), team["alice"]._guard.act("user.manage", Resource(type="User", id="zed")) as unit:
        from leanops.identity import Principal

        unit.identity.add_principal(Principal(name="zed", created_at=T0, created_by="alice"))
        raise RuntimeError("crash after the write")
    with team["alice"]._store.transaction() as unit:
        assert unit.identity.get_principal("zed") is None
    (rec,) = records(team["alice"], resource="User:zed")
    assert rec.policy_ids == ["outcome:failed"] and rec.details["outcome"] == "failed"
    assert rec.details["error"] == "RuntimeError: crash after the write"
    with team["alice"]._store.transaction() as unit:
        assert unit.identity.get_principal("zed") is None


def test_denial_is_audited_and_explained(team) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied) as info:
        team["vic"].users.add("mallory", roles=[Role.ADMIN])
    assert "vic (viewer in sandbox) may not user.manage User:mallory" in info.value.message
    assert info.value.hint and "exception" in info.value.hint
    denied = records(team["alice"], decision="deny")[-1]
    assert (denied.actor, denied.action) == ("vic", "user.manage")


def test_secrets_in_details_are_redacted(team) -> None:  # noqa: ANN001
    team["bob"]._guard.check(
        "run.create", Resource(type="Run", id="r2", owner="bob"), details={"env": {"API_TOKEN": "s3cret"}}
    )
    assert records(team["alice"], resource="Run:r2")[-1].details == {"env": {"API_TOKEN": "***"}}


def test_concurrent_appends_keep_one_chain(team) -> None:  # noqa: ANN001
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(10):
                team["bob"]._guard.check("run.read", Resource(type="Run", id=f"t{i}-{j}", owner="bob"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = team["alice"].audit.verify()
    assert report.ok and report.checked >= 40


# --- the bypass suite ----------------------------------------------------------------------


def test_unregistered_user_gets_nothing(team, as_user) -> None:  # noqa: ANN001
    with pytest.raises(AuthenticationError, match="needs a token|never trusted"):
        as_user("eve").audit.tail()


def test_viewer_cannot_write(team) -> None:  # noqa: ANN001
    team["vic"]._guard.check("run.read", Resource(type="Run", id="r", owner="bob"))
    with pytest.raises(PolicyDenied):
        team["vic"]._guard.check("run.create", Resource(type="Run", id="r", owner="vic"))


def test_developer_cannot_act_in_production(team, as_user) -> None:  # noqa: ANN001
    bob_prod = as_user("bob", zone="production")
    with pytest.raises(PolicyDenied, match="in production"):
        bob_prod._guard.check("run.create", Resource(type="Run", id="r", owner="bob"))
    team["bob"]._guard.check("run.create", Resource(type="Run", id="r", owner="bob"))  # sandbox is fine


def test_zone_scoped_role(team, as_user) -> None:  # noqa: ANN001
    team["alice"].users.add("sam")
    team["alice"].users.grant("sam", Role.DEVELOPER, Zone.STAGING)
    as_user("sam", zone="staging")._guard.check("run.create", Resource(type="Run", id="r", owner="sam"))
    with pytest.raises(PolicyDenied):
        as_user("sam", zone="sandbox")._guard.check("run.create", Resource(type="Run", id="r", owner="sam"))


def test_nobody_approves_their_own_model(team, as_user) -> None:  # noqa: ANN001
    version = Resource(type="ModelVersion", id="churn/1", owner="carol")
    with pytest.raises(PolicyDenied, match="no-self-approval"):
        team["carol"]._guard.check("model.approve", version)
    with pytest.raises(PolicyDenied, match="no-self-approval"):  # not even an admin
        team["alice"]._guard.check("model.approve", Resource(type="ModelVersion", id="churn/2", owner="alice"))
    team["carol"]._guard.check("model.approve", Resource(type="ModelVersion", id="churn/3", owner="bob"))


def test_sandbox_never_reads_sensitive_data(team, as_user) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied, match="sandbox-no-sensitive-data"):
        team["alice"]._guard.check("dataset.read", dataset(), context={"data_class": "sensitive"})
    team["bob"]._guard.check("dataset.read", dataset(), context={"data_class": "internal"})
    team["alice"].users.clear("carol", "sensitive", Zone.STAGING)
    as_user("carol", zone="staging")._guard.check("dataset.read", dataset(), context={"data_class": "sensitive"})


def test_source_off_the_allowlist_is_refused(team) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied, match="sources-on-allowlist"):
        team["bob"]._guard.check("dataset.register", dataset(), context={"source_allowed": False})
    team["bob"]._guard.check("dataset.register", dataset(), context={"source_allowed": True})


def test_production_release_needs_an_approver_and_an_approval(team, as_user) -> None:  # noqa: ANN001
    version = Resource(type="ModelVersion", id="churn/4", owner="bob")
    carol_prod = as_user("carol", zone="production")
    with pytest.raises(PolicyDenied, match="production-deploy-needs-approval"):
        carol_prod._guard.check("model.promote", version, context={"approved": False})
    carol_prod._guard.check("model.promote", version, context={"approved": True})
    with pytest.raises(PolicyDenied):
        as_user("bob", zone="production")._guard.check("model.promote", version, context={"approved": True})


def test_expired_token_is_refused(team, as_user) -> None:  # noqa: ANN001
    issued = team["bob"].users.create_token(ttl=timedelta(minutes=30))
    assert as_user(token=issued.plaintext).actor.name == "bob"
    team["clock"].advance(minutes=31)
    with pytest.raises(AuthenticationError, match="expired"):
        as_user(token=issued.plaintext).actor  # noqa: B018


def test_revoked_token_is_refused(team, as_user) -> None:  # noqa: ANN001
    issued = team["bob"].users.create_token()
    team["bob"].users.revoke_token(issued.record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        as_user(token=issued.plaintext).actor  # noqa: B018


def test_malformed_and_unknown_tokens_are_refused(team, as_user) -> None:  # noqa: ANN001
    with pytest.raises(AuthenticationError, match="malformed"):
        as_user(token="hunter2").actor  # noqa: B018
    with pytest.raises(AuthenticationError, match="not known"):
        as_user(token="lo_0123456789ab_" + "x" * 43).actor  # noqa: B018


def test_token_is_stored_only_as_hash(team) -> None:  # noqa: ANN001
    issued = team["bob"].users.create_token()
    from sqlalchemy import select

    from leanops.adapters.sql.tables import tokens

    with team["alice"]._store.transaction() as unit:
        row = unit.conn.execute(select(tokens)).mappings().first()
    assert issued.plaintext not in str(dict(row))
    assert all(issued.plaintext not in str(r.details) for r in records(team["alice"]))


def test_developer_cannot_mint_tokens_for_others(team) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied):
        team["bob"].users.create_token("alice")
    team["alice"].users.add("ci-bot", kind=PrincipalKind.SERVICE, roles=[Role.DEVELOPER])
    assert team["alice"].users.create_token("ci-bot").record.principal == "ci-bot"


def test_developer_cannot_revoke_anothers_token(team) -> None:  # noqa: ANN001
    carols = team["carol"].users.create_token()
    with pytest.raises(PolicyDenied):
        team["bob"].users.revoke_token(carols.record.id)


def _read_pii(ws: Workspace) -> None:
    ws._guard.check("dataset.read", dataset(), zone=Zone.STAGING, context={"data_class": "sensitive"})


def test_exception_allows_until_it_expires(team) -> None:  # noqa: ANN001
    waiver = team["alice"].governance.grant_exception(
        "bob", "dataset.read", resource="Dataset:*", zone=Zone.STAGING, expires=timedelta(days=1), reason="PII audit"
    )
    _read_pii(team["bob"])
    assert f"exception:{waiver.id}" in records(team["alice"], action="dataset.read")[-1].policy_ids
    team["clock"].advance(days=1, seconds=1)
    with pytest.raises(PolicyDenied, match="sensitive-data-needs-clearance"):
        _read_pii(team["bob"])


def test_revoked_exception_no_longer_applies(team) -> None:  # noqa: ANN001
    waiver = team["alice"].governance.grant_exception("bob", "dataset.read", expires=timedelta(hours=1), reason="x")
    _read_pii(team["bob"])
    team["alice"].governance.revoke_exception(waiver.id)
    with pytest.raises(PolicyDenied):
        _read_pii(team["bob"])


def test_only_admins_grant_exceptions_and_input_is_checked(team) -> None:  # noqa: ANN001
    with pytest.raises(PolicyDenied):
        team["carol"].governance.grant_exception("carol", "dataset.read", expires=timedelta(hours=1), reason="me")
    with pytest.raises(ValidationError, match="Unknown action"):
        team["alice"].governance.grant_exception("bob", "dataset.eat", expires=timedelta(hours=1), reason="x")
    with pytest.raises(ValidationError, match="at most 30 days"):
        team["alice"].governance.grant_exception("bob", "dataset.read", expires=timedelta(days=31), reason="x")
    with pytest.raises(NotFound):
        team["alice"].governance.revoke_exception("nope")


def test_unknown_role_and_bad_names(team) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        Role("superuser")
    with pytest.raises(ValidationError, match="not a valid user"):
        team["alice"].users.add("bad name")


def test_explain_for_another_principal(team) -> None:  # noqa: ANN001
    decision = team["alice"].explain(
        "bob", "model.approve", Resource(type="ModelVersion", id="m/1", owner="bob"), Zone.STAGING
    )
    assert not decision.allowed and "no-self-approval" in decision.policy_ids
    assert (
        team["alice"]
        .explain("carol", "model.approve", Resource(type="ModelVersion", id="m/1", owner="bob"), Zone.STAGING)
        .allowed
    )
