"""`leanops data`: register, list, show, diff, checkout — and refusals as exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanops.policy import Role
from leanops.workspace import Workspace
from leanops.zones import Zone

CSV_V1 = "id,age,plan\n1,34,free\n2,,pro\n3,51,free\n"
CSV_V2 = "id,age,plan,score\n1,34,free,0.5\n2,41,pro,0.7\n3,51,free,0.1\n4,28,team,0.9\n"
CONTRACT = "columns:\n  id: {dtype: int, unique: true}\n  age: {dtype: int, min: 30}\n  plan: {allowed: [free, pro]}\n"


@pytest.fixture
def files(ws: Workspace, project: Path) -> Path:
    """v1, v2 and a contract beside the project's leanops.yaml (the working directory)."""
    (project / "v1").mkdir()
    (project / "v2").mkdir()
    (project / "v1" / "customers.csv").write_text(CSV_V1)
    (project / "v2" / "customers.csv").write_text(CSV_V2)
    (project / "contract.yaml").write_text(CONTRACT)
    return project


def test_register_list_show(files: Path, cli) -> None:  # noqa: ANN001
    result = cli("data", "register", "v1/customers.csv", "--name", "customers", "--contract", "contract.yaml")
    assert result.exit_code == 0, result.output
    assert "customers@v1" in result.output and "3 rows" in result.output and "internal" in result.output
    again = cli("data", "register", "v1/customers.csv", "--name", "customers")
    assert "customers@v1" in again.output and "already registered" in again.output

    listed = json.loads(cli("data", "list", "--json").output)
    assert [(d["name"], d["version"], d["rows"]) for d in listed] == [("customers", 1, 3)]
    assert "customers@v1" in cli("data", "list").output

    shown = cli("data", "show", "customers")
    assert shown.exit_code == 0 and "age" in shown.output and "33.3%" in shown.output and "file://" in shown.output
    detail = json.loads(cli("data", "show", listed[0]["id"][:10], "--json").output)
    assert detail["profile"]["rows"] == 3 and detail["contract"]["columns"]["age"]["min"] == 30


def test_register_json_with_class_and_source(files: Path, cli) -> None:  # noqa: ANN001
    result = cli(
        "data",
        "register",
        "v1",
        "--name",
        "raw",
        "--class",
        "public",
        "--source",
        "s3://lake/raw/",
        "--json",
        env={"LEANOPS_DATA__ALLOWED_SOURCES": '["s3://lake/*"]'},
    )
    snap = json.loads(result.output)
    assert (snap["format"], snap["kind"], snap["data_class"], snap["source"]) == (
        "csv",
        "folder",
        "public",
        "s3://lake/raw/",
    )


def test_diff(files: Path, cli) -> None:  # noqa: ANN001
    cli("data", "register", "v1/customers.csv", "--name", "customers")
    cli("data", "register", "v2/customers.csv", "--name", "customers")
    text = cli("data", "diff", "customers@v1", "customers@v2")
    assert text.exit_code == 0, text.output
    for expected in ("score", "added", "float64", "3 → 4 (+1)"):
        assert expected in text.output
    data = json.loads(cli("data", "diff", "customers@v1", "customers", "--json").output)
    assert data["profile"]["added"] == ["score"] and data["identical"] is False


def test_checkout(files: Path, cli) -> None:  # noqa: ANN001
    cli("data", "register", "v2", "--name", "customers")
    result = cli("data", "checkout", "customers", "out")
    assert result.exit_code == 0, result.output
    assert (files / "out" / "customers.csv").read_text() == CSV_V2


def test_contract_violation_exits_3_and_says_why(files: Path, cli) -> None:  # noqa: ANN001
    result = cli("data", "register", "v2/customers.csv", "--name", "customers", "--contract", "contract.yaml")
    assert result.exit_code == 3
    assert "age: 1 row below min 30 (e.g. row 3: 28)" in result.output
    assert "plan: 1 row not among the allowed values" in result.output
    assert "Traceback" not in result.output
    assert json.loads(cli("data", "list", "--json").output) == []


def test_contract_typo_exits_3_with_line(files: Path, cli) -> None:  # noqa: ANN001
    (files / "typo.yaml").write_text("columns:\n  id:\n    dtype: int\n    nulable: false\n")
    result = cli("data", "register", "v1/customers.csv", "--name", "customers", "--contract", "typo.yaml")
    assert result.exit_code == 3
    assert "typo.yaml:4: key 'columns.id.nulable': unknown key (did you mean 'nullable'?)" in result.output


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["data", "show", "ghost"], 4, "No dataset or snapshot 'ghost'"),
        (["data", "register", "nope.csv", "--name", "c"], 4, "No file or folder"),
        (["data", "register", "v1/customers.csv", "--name", ""], 3, "not a valid dataset name"),
        (["data", "register", "v1/customers.csv", "--name", "c", "--class", "secret"], 3, "not a data class"),
        (["data", "register", "contract.yaml", "--name", "c"], 3, "neither CSV nor Parquet"),
    ],
)
def test_bad_input_exit_codes(files: Path, cli, args: list[str], code: int, text: str) -> None:  # noqa: ANN001
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert text in result.output and "Traceback" not in result.output


def test_policy_refusals_exit_7(ws: Workspace, files: Path, cli) -> None:  # noqa: ANN001
    ws.users.add("bob", roles=[Role.DEVELOPER])
    bob = {"LEANOPS_TOKEN": ws.users.create_token("bob").plaintext}
    assert cli("data", "register", "v1/customers.csv", "--name", "patients", "--class", "sensitive").exit_code == 0
    refused = cli("data", "show", "patients", env=bob)
    assert refused.exit_code == 7 and "sandbox-no-sensitive-data" in refused.output
    staging = cli("--zone", "staging", "data", "show", "patients", env=bob)
    assert staging.exit_code == 7 and "sensitive-data-needs-clearance" in staging.output
    ws.users.clear("bob", "sensitive", Zone.STAGING)
    assert cli("--zone", "staging", "data", "show", "patients", env=bob).exit_code == 0
    offlist = cli(
        "data", "register", "v2/customers.csv", "--name", "c", env={"LEANOPS_DATA__ALLOWED_SOURCES": '["s3://lake/*"]'}
    )
    assert offlist.exit_code == 7 and "sources-on-allowlist" in offlist.output
