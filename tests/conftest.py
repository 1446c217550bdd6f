"""Shared fixtures: real stores on a temporary SQLite file and on the machine's PostgreSQL.

PostgreSQL tests get a fresh database per test, cloned from a migrated template made once
per run. When PostgreSQL is unreachable they skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from leanops.project import write_project
from leanops.workspace import Workspace

PG_ADMIN_URL = os.environ.get("LEANOPS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_admin():  # noqa: ANN202
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database for this run; dropped at the end."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from leanops.adapters.sql.store import SqlStore

    engine = _pg_admin()
    name = f"leanops_tmpl_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    store = SqlStore(url)
    store.upgrade()
    store.close()
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    from sqlalchemy import text

    engine = _pg_admin()
    name = f"leanops_t_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder with leanops.yaml, owner alice, as the working directory."""
    for key in [k for k in os.environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    folder = tmp_path / "proj"
    write_project(folder, project="demo", owner="alice")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def ws(project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """An initialised workspace (alice is admin) on each backend."""
    monkeypatch.setenv("LEANOPS_STORE__URL", store_url)
    workspace = Workspace.from_config(project)
    workspace.bootstrap()
    if workspace.issued_token:  # a team store: the CLI and child processes act with the admin's token
        monkeypatch.setenv("LEANOPS_TOKEN", workspace.issued_token)
    yield workspace
    workspace.close()


def _registered(ws: Workspace, name: str) -> bool:
    with ws._store.transaction() as unit:
        return unit.identity.get_principal(name) is not None


@pytest.fixture
def as_user(ws: Workspace):  # noqa: ANN201
    """Open the same project as another principal: `as_user("bob", zone="staging")`.

    A name alone is trusted only for the local admin, so for anyone else the admin mints a
    token (as a team would hand one out) and the workspace acts with it. An unregistered name
    gets a workspace without a token, which is refused when it first acts.
    """
    from datetime import timedelta

    from leanops.identity import MAX_TOKEN_TTL

    opened: list[Workspace] = []

    def open_as(user: str | None = None, *, token: str | None = None, zone: str | None = None) -> Workspace:
        if token is None and user not in (None, ws.actor.name) and _registered(ws, user):
            token = ws.users.create_token(user, ttl=MAX_TOKEN_TTL - timedelta(seconds=1)).plaintext
        elif token is None and user in (None, ws.actor.name):
            token = ws._token
        other = Workspace(
            ws.settings,
            store=ws._store,
            artifacts=ws.artifacts,
            policy=ws.policy_engine,
            clock=ws.clock,
            user=user,
            token=token,
            zone=zone,
        )
        opened.append(other)
        return other

    return open_as


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray instance for the whole session (2 CPUs, no dashboard)."""
    try:
        import ray
    except ImportError:
        pytest.skip("ray is not installed: pip install 'leanops[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
