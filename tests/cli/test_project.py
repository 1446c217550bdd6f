"""init, status, config show, db upgrade, fsck — and errors becoming exit codes, not tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def initialised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:  # noqa: ANN001
    for key in [k for k in __import__("os").environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    result = cli("init", "proj", "--project", "churn", "--owner", "alice")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "proj")
    return tmp_path / "proj"


def test_init_writes_config_and_makes_admin(initialised: Path, cli) -> None:  # noqa: ANN001
    assert (initialised / "leanops.yaml").is_file()
    assert (initialised / "policies" / "README.md").is_file()
    info = json.loads(cli("status", "--json").output)
    assert info["project"] == "churn" and info["actor"] == "alice"
    assert info["roles"]["production"] == ["admin"]
    assert info["audit_records"] >= 1


def test_init_refuses_to_overwrite(initialised: Path, cli) -> None:  # noqa: ANN001
    result = cli("init", ".")
    assert result.exit_code == 5 and "exists already" in result.output and "Traceback" not in result.output


def test_config_show_names_sources(initialised: Path, cli) -> None:  # noqa: ANN001
    rows = json.loads(cli("config", "show", "--json", env={"LEANOPS_ZONE": "staging"}).output)
    by_key = {r["key"]: r for r in rows}
    assert by_key["zone"] == {"key": "zone", "value": "staging", "source": "env LEANOPS_ZONE"}
    assert by_key["project"]["source"].startswith("leanops.yaml:")


def test_invalid_config_exits_2_with_file_key_reason(initialised: Path, cli) -> None:  # noqa: ANN001
    cfg = initialised / "leanops.yaml"
    cfg.write_text(cfg.read_text().replace("zone: sandbox", "zone: moon"))
    result = cli("status")
    assert result.exit_code == 2
    assert "leanops.yaml:" in result.output and "key 'zone'" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(initialised: Path, cli) -> None:  # noqa: ANN001
    cfg = initialised / "leanops.yaml"
    cfg.write_text(cfg.read_text().replace("zone: sandbox", "zone: moon"))
    assert "Traceback" in cli("--debug", "status").output


def test_no_project_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    result = cli("status")
    assert result.exit_code == 2 and "leanops init" in result.output


def test_db_upgrade_reports_revision(initialised: Path, cli) -> None:  # noqa: ANN001
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "schema at revision" in result.output


def test_a_name_that_is_not_the_local_person_needs_a_token(initialised: Path, cli) -> None:  # noqa: ANN001
    result = cli("users", "list", env={"LEANOPS_USER": "eve"})
    assert result.exit_code == 6 and "acting as 'eve' needs a token" in result.output


def test_a_registered_user_without_a_role_is_denied_with_exit_7(initialised: Path, cli, token_env) -> None:  # noqa: ANN001
    assert cli("users", "add", "eve").exit_code == 0
    result = cli("users", "list", env=token_env("eve"))
    assert result.exit_code == 7 and "eve (no role in sandbox) may not user.read" in result.output


def test_fsck_clean_then_corrupt(initialised: Path, cli) -> None:  # noqa: ANN001
    from leanops.workspace import Workspace

    assert cli("fsck").exit_code == 0
    with Workspace.from_config() as ws:
        digest = ws.artifacts.put_bytes(b"model weights")
    blob = next(p for p in (initialised / ".leanops" / "artifacts").rglob("*") if p.is_file() and p.name in digest)
    blob.write_bytes(b"tampered")
    result = cli("fsck")
    assert result.exit_code == 8 and "corrupt" in result.output


def test_fsck_reports_a_broken_audit_chain(initialised: Path, cli) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from leanops.adapters.sql.tables import audit_log
    from leanops.workspace import Workspace

    with Workspace.from_config() as ws, ws._store.transaction() as unit:
        unit.conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(actor="mallory"))
    result = cli("fsck")
    assert result.exit_code == 8 and "audit seq 1" in result.output
    assert cli("audit", "verify").exit_code == 8
