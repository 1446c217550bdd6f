"""users, tokens, policy and audit commands end to end, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:  # noqa: ANN001
    for key in [k for k in __import__("os").environ if k.startswith("LEANOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert cli("init", "p", "--owner", "alice").exit_code == 0
    monkeypatch.chdir(tmp_path / "p")
    assert cli("users", "add", "bob", "--role", "developer").exit_code == 0
    assert cli("users", "add", "carol", "--role", "approver").exit_code == 0
    return tmp_path / "p"


def test_users_list_and_grant_revoke(proj: Path, cli) -> None:  # noqa: ANN001
    assert cli("users", "grant", "bob", "approver", "--in-zone", "staging").exit_code == 0
    users = {u["name"]: u for u in json.loads(cli("users", "list", "--json").output)}
    assert {(g["role"], g["zone"]) for g in users["bob"]["grants"]} == {("developer", None), ("approver", "staging")}
    assert cli("users", "revoke", "bob", "approver", "--in-zone", "staging").exit_code == 0
    result = cli("users", "revoke", "bob", "approver")
    assert result.exit_code == 4 and "holds no approver grant" in result.output


def test_unknown_role_and_zone_are_usage_errors(proj: Path, cli) -> None:  # noqa: ANN001
    assert cli("users", "grant", "bob", "superuser").exit_code == 2
    result = cli("--zone", "moon", "status")
    assert result.exit_code == 3 and "Unknown zone 'moon'" in result.output


def test_token_lifecycle(proj: Path, cli, token_env) -> None:  # noqa: ANN001
    bob = token_env("bob")
    created = cli("tokens", "create", "--expires", "1h", env=bob)
    assert created.exit_code == 0
    token = created.output.strip().splitlines()[-1]
    status = json.loads(cli("--token", token, "status", "--json").output)
    assert status["actor"] == "bob"
    token_id = token.split("_")[1]
    listing = cli("tokens", "list")
    assert token_id in listing.output and token not in listing.output
    assert cli("tokens", "revoke", token_id, env=bob).exit_code == 0
    refused = cli("--token", token, "status")
    assert refused.exit_code == 6 and "revoked" in refused.output


def test_malformed_token_exits_6(proj: Path, cli) -> None:  # noqa: ANN001
    result = cli("status", env={"LEANOPS_TOKEN": "not-a-token"})
    assert result.exit_code == 6 and "malformed" in result.output


def test_bad_token_lifetime(proj: Path, cli) -> None:  # noqa: ANN001
    assert cli("tokens", "create", "--expires", "forever").exit_code == 3
    assert cli("tokens", "create", "--expires", "400d").exit_code == 3


def test_policy_check_and_explain(proj: Path, cli) -> None:  # noqa: ANN001
    assert cli("policy", "check").exit_code == 0
    result = cli(
        "policy",
        "explain",
        "--principal",
        "bob",
        "--action",
        "model.approve",
        "--resource",
        "ModelVersion:churn/1",
        "--owner",
        "bob",
        "--in-zone",
        "staging",
    )
    assert "DENY" in result.output and "no-self-approval" in result.output
    result = cli(
        "policy",
        "explain",
        "--principal",
        "carol",
        "--action",
        "model.approve",
        "--resource",
        "ModelVersion:churn/1",
        "--owner",
        "bob",
        "--in-zone",
        "staging",
    )
    assert "ALLOW" in result.output and "approvers-release" in result.output
    result = cli(
        "policy",
        "explain",
        "--principal",
        "bob",
        "--action",
        "dataset.read",
        "--resource",
        "Dataset:x",
        "-c",
        "data_class=sensitive",
    )
    assert "DENY" in result.output and "sandbox-no-sensitive-data" in result.output


def test_policy_check_reports_file_line_column(proj: Path, cli) -> None:  # noqa: ANN001
    (proj / "policies" / "team.cedar").write_text(
        '@id("team-rule")\npermit (principal, action, resource)\nwhen { context.zone == "sandbox" && resource.colour == "red" };\n'
    )
    result = cli("policy", "check")
    assert result.exit_code == 2
    assert "team.cedar:3:" in result.output


def test_invalid_project_policy_blocks_every_command(proj: Path, cli) -> None:  # noqa: ANN001
    (proj / "policies" / "bad.cedar").write_text(
        "permit (principal, action, resource) when { resource.nosuch == 1 };\n"
    )
    result = cli("audit", "tail")
    assert result.exit_code == 2 and "bad.cedar" in result.output


def test_project_policy_takes_part(proj: Path, cli) -> None:  # noqa: ANN001
    (proj / "policies" / "freeze.cedar").write_text(
        '// Release freeze: no promotions this week.\n@id("release-freeze")\n'
        'forbid (principal, action == Action::"model.promote", resource);\n'
    )
    result = cli(
        "policy",
        "explain",
        "--principal",
        "carol",
        "--action",
        "model.promote",
        "--resource",
        "ModelVersion:m/1",
        "--owner",
        "bob",
        "--in-zone",
        "staging",
    )
    assert "DENY" in result.output and "release-freeze" in result.output


def test_policy_doc_describes_acceptable_use(proj: Path, cli, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "policy.md"
    assert cli("policy", "doc", "--out", str(out)).exit_code == 0
    text = out.read_text()
    for needle in ("developer", "sandbox", "production", "sensitive", "exception", "no-self-approval"):
        assert needle in text


def test_exception_commands(proj: Path, cli, token_env) -> None:  # noqa: ANN001
    denied = cli(
        "policy",
        "exception",
        "grant",
        "--principal",
        "bob",
        "--action",
        "dataset.read",
        "--expires",
        "1d",
        "--reason",
        "x",
        env=token_env("carol"),
    )
    assert denied.exit_code == 7
    granted = cli(
        "policy",
        "exception",
        "grant",
        "--principal",
        "bob",
        "--action",
        "dataset.read",
        "--resource",
        "Dataset:*",
        "--expires",
        "1d",
        "--reason",
        "PII audit",
    )
    assert granted.exit_code == 0
    rows = json.loads(cli("policy", "exception", "list", "--json").output)
    assert rows[0]["principal"] == "bob" and rows[0]["reason"] == "PII audit"
    assert cli("policy", "exception", "revoke", rows[0]["id"]).exit_code == 0
    assert cli("policy", "exception", "revoke", "nope").exit_code == 4


def test_audit_commands(proj: Path, cli, tmp_path: Path, token_env) -> None:  # noqa: ANN001
    assert cli("users", "add", "eve").exit_code == 0  # registered, but holding no role
    cli("users", "list", env=token_env("eve"))
    tail = cli("audit", "tail", "-n", "50")
    assert "user.manage" in tail.output and "deny" in tail.output
    query = cli("audit", "query", "--actor", "eve", "--decision", "deny", "--since", "1h")
    assert "eve" in query.output
    assert cli("audit", "query", "--since", "yesterday").exit_code == 3
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(out)).exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["seq"] == 1 and all("hash" in r for r in lines)
    assert cli("audit", "verify").exit_code == 0


def test_policy_check_warns_about_broad_permits_and_status_lists_them(proj: Path, cli) -> None:  # noqa: ANN001
    (proj / "policies" / "open.cedar").write_text('@id("open-door")\npermit (principal, action, resource);\n')
    check = cli("policy", "check")
    assert check.exit_code == 0 and "widens access broadly" in check.output and "no principal" in check.output
    status = cli("policy", "status")
    assert "pending open-door" in status.output
    assert "needs one more approval" in cli("policy", "approve", "open-door").output
