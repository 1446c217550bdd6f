"""The SQL metadata store on SQLite and PostgreSQL: migrations, CRUD, atomicity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leanops.adapters.sql.store import SqlStore
from leanops.errors import ConfigError, StoreUnavailable
from leanops.identity import Principal, RoleGrant, TokenRecord
from leanops.policy import Role
from leanops.zones import Zone

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture
def store(store_url: str):  # noqa: ANN201
    s = SqlStore(store_url)
    s.upgrade()
    yield s
    s.close()


def test_upgrade_is_idempotent_and_reaches_head(store: SqlStore) -> None:
    first = store.upgrade()
    assert store.upgrade() == first
    assert set(first.split(",")) == store.heads()
    assert not store.needs_upgrade()


def test_fresh_sqlite_needs_upgrade(tmp_path) -> None:  # noqa: ANN001
    s = SqlStore(f"sqlite:///{tmp_path / 'new.db'}")
    assert s.revision() is None and s.needs_upgrade()
    s.upgrade()
    assert not s.needs_upgrade()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_principal_and_grant_crud(store: SqlStore) -> None:
    with store.transaction() as unit:
        unit.identity.add_principal(Principal(name="bob", created_at=NOW, created_by="alice"))
        assert unit.identity.add_grant(
            RoleGrant(principal="bob", role=Role.DEVELOPER, granted_at=NOW, granted_by="alice")
        )
        assert not unit.identity.add_grant(
            RoleGrant(principal="bob", role=Role.DEVELOPER, granted_at=NOW, granted_by="alice")
        )
        unit.identity.add_grant(
            RoleGrant(principal="bob", role=Role.APPROVER, zone=Zone.STAGING, granted_at=NOW, granted_by="alice")
        )
    with store.transaction() as unit:
        bob = unit.identity.get_principal("bob")
        assert bob is not None and bob.created_at == NOW
        assert {(g.role, g.zone) for g in unit.identity.grants("bob")} == {
            (Role.DEVELOPER, None),
            (Role.APPROVER, Zone.STAGING),
        }
        assert unit.identity.remove_grant("bob", Role.APPROVER, Zone.STAGING)
        assert not unit.identity.remove_grant("bob", Role.APPROVER, Zone.STAGING)
        assert unit.identity.count_principals() == 1


def test_token_crud_keeps_only_hash(store: SqlStore) -> None:
    record = TokenRecord(id="abcdefabcdef", principal="bob", created_at=NOW, expires_at=NOW + timedelta(hours=1))
    with store.transaction() as unit:
        unit.identity.add_token(record, "f" * 64)
    with store.transaction() as unit:
        assert unit.identity.token_by_hash("f" * 64) == record
        unit.identity.revoke_token(record.id, NOW)
        assert unit.identity.get_token(record.id).revoked_at == NOW


def test_failed_transaction_leaves_nothing(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as unit:
        unit.identity.add_principal(Principal(name="ghost", created_at=NOW, created_by="x"))
        raise RuntimeError("boom")
    with store.transaction() as unit:
        assert unit.identity.get_principal("ghost") is None


def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as unit:
        unit.identity.add_principal(Principal(name="n", created_at=datetime(2026, 1, 1), created_by="x"))


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        SqlStore("not a url")
    with pytest.raises(ConfigError, match="driver"):
        SqlStore("postgresql+nosuchdriver://u@h/db")


def test_unreachable_postgres_is_store_unavailable() -> None:
    store = SqlStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
        store.upgrade()
