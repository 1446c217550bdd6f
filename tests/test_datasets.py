"""Datasets: content-addressed snapshots, contracts, profiles, policy and bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanops.datasets import DataContract, check_frame, find_snapshot, load_contract, scan
from leanops.datasets.profile import diff_profiles, profile
from leanops.errors import Conflict, IntegrityError, NotFound, PolicyDenied, ValidationError
from leanops.policy import Role
from leanops.workspace import Workspace
from leanops.zones import Zone

CSV_V1 = "id,age,plan\n1,34,free\n2,,pro\n3,51,free\n4,28,team\n"
CSV_V2 = "id,age,plan,score\n1,34,free,0.5\n2,41,pro,0.7\n3,51,free,0.1\n4,28,team,0.9\n5,60,pro,0.3\n"

CONTRACT = """\
columns:
  id: {dtype: int, nullable: false, unique: true}
  age:
    dtype: int
    min: 18
    max: 99
  plan: {dtype: str, allowed: [free, pro, team]}
rows: {min: 1, max: 1000}
"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def stored(ws: Workspace) -> tuple[list, list, list]:
    """Version rows, artifact refs and blobs: what a refused registration must not leave."""
    with ws._store.transaction() as unit:
        return unit.datasets.list(), unit.refs.all(), list(ws.artifacts.digests())


def audit(ws: Workspace, action: str) -> list:
    from leanops.audit import AuditFilter

    with ws._store.transaction() as unit:
        return unit.audit.query(AuditFilter(action=action))


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    return write(tmp_path / "in" / "customers.csv", CSV_V1)


# --- content addressing ------------------------------------------------------------------


def test_file_id_is_the_sha256_of_its_bytes(csv: Path) -> None:
    found = scan(csv)
    assert found.id == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert (found.kind, found.format, [f.path for f in found.files]) == ("file", "csv", ["customers.csv"])


def test_folder_id_is_the_sha256_of_its_sorted_manifest(tmp_path: Path) -> None:
    write(tmp_path / "d" / "b.csv", "x\n2\n")
    write(tmp_path / "d" / "sub" / "a.csv", "x\n1\n")
    write(tmp_path / "d" / ".DS_Store", "noise")
    write(tmp_path / "d" / ".git" / "HEAD", "noise")
    found = scan(tmp_path / "d")
    digest = {p: hashlib.sha256((tmp_path / "d" / p).read_bytes()).hexdigest() for p in ("b.csv", "sub/a.csv")}
    manifest = f"{digest['b.csv']}  b.csv\n{digest['sub/a.csv']}  sub/a.csv\n".encode()
    assert found.manifest == manifest
    assert found.id == hashlib.sha256(manifest).hexdigest()
    assert (found.kind, found.format) == ("folder", "csv")


def test_renaming_a_file_changes_a_folder_id(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.csv", "x\n1\n")
    before = scan(tmp_path / "d").id
    (tmp_path / "d" / "a.csv").rename(tmp_path / "d" / "b.csv")
    assert scan(tmp_path / "d").id != before


def test_folder_formats(tmp_path: Path) -> None:
    write(tmp_path / "spark" / "part-0.csv", "x\n1\n")
    write(tmp_path / "spark" / "_SUCCESS", "")
    write(tmp_path / "mixed" / "a.csv", "x\n1\n")
    write(tmp_path / "mixed" / "img.png", b"\x89PNG")
    assert scan(tmp_path / "spark").format == "csv"
    assert scan(tmp_path / "mixed").format == "files"


# --- contracts ---------------------------------------------------------------------------


def contract(text: str, tmp_path: Path) -> DataContract:
    return load_contract(write(tmp_path / "contract.yaml", text))


def test_contract_typo_names_file_key_and_line(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        contract("columns:\n  id:\n    dtype: int\n    nulable: false\n", tmp_path)
    assert "contract.yaml:4: key 'columns.id.nulable': unknown key (did you mean 'nullable'?)" in err.value.message
    assert err.value.details["file"].endswith("contract.yaml")


def test_contract_wrong_types_and_values_are_each_located(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        contract(
            "columns:\n  a: {dtype: integer}\n  b:\n    nullable: maybe\n  c: {min: 5, max: 1}\nrow: {min: 1}\n",
            tmp_path,
        )
    problems = err.value.details["problems"]
    assert any(":2: key 'columns.a.dtype'" in p and "'int'" in p for p in problems)
    assert any(":4: key 'columns.b.nullable'" in p for p in problems)
    assert any(":5: key 'columns.c'" in p and "greater than max" in p for p in problems)
    assert any(":6: key 'row'" in p and "did you mean 'rows'" in p for p in problems)


def test_contract_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"contract.yaml:\d+:\d+: invalid YAML"):
        contract("columns:\n  a: [unclosed\n", tmp_path)
    with pytest.raises(NotFound):
        load_contract(tmp_path / "nope.yaml")


def test_contract_shorthand_and_implied_dtype(tmp_path: Path) -> None:
    spec = contract("columns:\n  age: int\n  plan:\n  score: {min: 0}\n  at: {max: 2030-01-01}\n", tmp_path)
    assert spec.columns["age"].dtype == "int" and spec.columns["plan"].dtype is None
    assert (spec.columns["score"].dtype, spec.columns["at"].dtype) == ("float", "datetime")


def violations(df: pd.DataFrame, text: str, tmp_path: Path) -> dict[tuple[str | None, str], object]:
    return {(v.column, v.check): v for v in check_frame(df, contract(text, tmp_path))}


def test_every_violation_is_counted_per_column_with_examples(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 2, 4, None],
            "age": ["30", "abc", "150", "45.5", "10"],
            "plan": ["free", "gold", "pro", None, "gold"],
        }
    )
    found = violations(df, CONTRACT, tmp_path)
    assert found[("id", "not_nullable")].count == 1
    assert found[("id", "field_uniqueness")].count == 2
    assert found[("age", "dtype")].count == 2
    assert {e.value for e in found[("age", "dtype")].examples} == {"abc", "45.5"}
    assert found[("age", "max")].count == 1 and found[("age", "max")].examples[0].row == 2
    assert found[("age", "min")].count == 1 and found[("age", "min")].examples[0].value == "10"
    assert found[("plan", "allowed")].count == 2
    assert [e.row for e in found[("plan", "allowed")].examples] == [1, 4]


def test_row_bounds_missing_and_unexpected_columns(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1], "extra": [0]})
    found = violations(df, "columns:\n  id: int\n  name: str\nrows: {min: 2}\nstrict: true\n", tmp_path)
    assert set(found) == {("name", "missing"), ("extra", "unexpected"), (None, "rows")}
    assert "has 1 rows; the contract wants at least 2" in found[(None, "rows")].problem


def test_datetime_and_bool_columns(tmp_path: Path) -> None:
    df = pd.DataFrame({"at": ["2024-01-05", "2023-06-01", "not a date"], "ok": ["yes", "no", "maybe"]})
    found = violations(df, "columns:\n  at: {dtype: datetime, min: 2024-01-01}\n  ok: bool\n", tmp_path)
    assert found[("at", "dtype")].count == 1 and found[("at", "min")].count == 1
    assert found[("ok", "dtype")].examples[0].value == "maybe"


def test_a_kept_contract_reports_nothing(tmp_path: Path) -> None:
    df = pd.read_csv(write(tmp_path / "c.csv", CSV_V1))
    assert violations(df, CONTRACT, tmp_path) == {}


# --- profiles ----------------------------------------------------------------------------


def test_profile_numeric_column() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(50, 10, 1000)
    values[:50] = np.nan
    p = profile(pd.DataFrame({"x": values}))
    col = p.column("x")
    finite = values[~np.isnan(values)]
    assert p.rows == 1000 and col.kind == "numeric" and col.nulls == 50 and col.null_rate == 0.05
    assert col.mean == pytest.approx(finite.mean()) and col.std == pytest.approx(finite.std(ddof=1))
    assert col.quantiles["p50"] == pytest.approx(np.median(finite))
    assert list(col.quantiles) == ["p5", "p25", "p50", "p75", "p95"]
    assert len(col.histogram.edges) == 21 and sum(col.histogram.counts) == 950
    assert (col.min, col.max) == (finite.min(), finite.max())


def test_profile_categorical_boolean_datetime_and_empty_columns() -> None:
    df = pd.DataFrame(
        {
            "plan": ["free", "pro", "free", None],
            "ok": [True, False, True, True],
            "at": pd.to_datetime(["2024-01-01", "2024-03-01", None, "2024-02-01"]),
            "nothing": [np.nan] * 4,
        }
    )
    p = profile(df)
    plan = p.column("plan")
    assert plan.kind == "categorical" and [(t.value, t.count) for t in plan.top] == [("free", 2), ("pro", 1)]
    assert plan.top[0].frequency == pytest.approx(2 / 3)
    assert p.column("ok").kind == "boolean" and p.column("ok").top[0].value == "True"
    assert (p.column("at").first, p.column("at").last) == ("2024-01-01T00:00:00", "2024-03-01T00:00:00")
    assert p.column("nothing").mean is None and p.column("nothing").null_rate == 1.0
    assert profile(pd.DataFrame({"a": []})).rows == 0


def test_profile_is_deterministic_and_json_safe() -> None:
    df = pd.DataFrame({"x": [1.0, np.inf, np.nan, 2.0], "s": ["b", "a", "b", "a"]})
    a, b = profile(df), profile(df.copy())
    assert a == b
    json.loads(a.model_dump_json())
    assert a.column("x").max == 2.0
    assert [t.value for t in a.column("s").top] == ["a", "b"]


def test_diff_profiles() -> None:
    a = profile(pd.DataFrame({"id": [1, 2], "age": [30, 40], "old": ["x", "y"]}))
    b = profile(pd.DataFrame({"id": [1, 2, 3], "age": [30.0, None, 50.0], "new": [1, 2, 3]}))
    d = diff_profiles(a, b)
    assert (d.rows_a, d.rows_b, d.added, d.removed) == (2, 3, ["new"], ["old"])
    assert [(c.column, c.a, c.b) for c in d.dtype_changes] == [("age", "int64", "float64")]
    age = next(c for c in d.columns if c.column == "age")
    assert (age.null_rate_a, age.null_rate_b, age.mean_a, age.mean_b) == (0.0, pytest.approx(1 / 3), 35.0, 40.0)


# --- registering -------------------------------------------------------------------------


def test_register_stores_profile_refs_and_audit(ws: Workspace, csv: Path) -> None:
    snap = ws.datasets.register(csv, name="customers")
    assert (snap.ref, snap.rows, snap.data_class, snap.format) == ("customers@v1", 4, "internal", "csv")
    assert snap.source == f"file://{csv.resolve()}"
    assert snap.profile.column("age").null_rate == 0.25
    refs = stored(ws)[1]
    assert [(r.owner_kind, r.owner_id, r.name, r.digest) for r in refs] == [
        ("dataset", snap.id, "customers.csv", snap.id)
    ]
    record = audit(ws, "dataset.register")[-1]
    assert record.decision == "allow" and record.resource == "Dataset:customers"
    assert record.details["snapshot"] == snap.id and record.details["version"] == 1
    assert ws.fsck().ok


def test_same_bytes_same_snapshot_new_bytes_new_version(ws: Workspace, csv: Path, tmp_path: Path) -> None:
    v1 = ws.datasets.register(csv, name="customers")
    again = ws.datasets.register(write(tmp_path / "copy" / "customers.csv", CSV_V1), name="customers")
    assert (again.id, again.version, again.created_at) == (v1.id, 1, v1.created_at)
    v2 = ws.datasets.register(write(tmp_path / "v2" / "customers.csv", CSV_V2), name="customers")
    assert v2.version == 2 and v2.id != v1.id
    alias = ws.datasets.register(csv, name="customers_eu")
    assert (alias.id, alias.ref) == (v1.id, "customers_eu@v1")
    rows, refs, blobs = stored(ws)
    assert [s.ref for s in rows] == ["customers@v1", "customers@v2", "customers_eu@v1"]
    assert len(refs) == 2 and len(blobs) == 2
    assert audit(ws, "dataset.register")[1].details["existing"] is True


def test_load_returns_the_registered_table(ws: Workspace, csv: Path) -> None:
    ws.datasets.register(csv, name="customers")
    pd.testing.assert_frame_equal(ws.datasets.load("customers"), pd.read_csv(csv))


def test_parquet_and_csv_folders(ws: Workspace, tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "score": [0.1, 0.5, None]})
    df.to_parquet(tmp_path / "scores.parquet")
    snap = ws.datasets.register(tmp_path / "scores.parquet", name="scores")
    assert snap.format == "parquet" and snap.rows == 3
    pd.testing.assert_frame_equal(ws.datasets.load("scores"), df)

    write(tmp_path / "parts" / "part-1.csv", "id,x\n3,c\n")
    write(tmp_path / "parts" / "part-0.csv", "id,x\n1,a\n2,b\n")
    write(tmp_path / "parts" / "_SUCCESS", "")
    spec = write(tmp_path / "p.yaml", "columns:\n  id: int\n")
    parts = ws.datasets.register(tmp_path / "parts", name="parts", contract=spec)
    assert (parts.kind, parts.format, parts.rows, len(parts.files)) == ("folder", "csv", 3, 3)
    assert ws.datasets.load("parts")["x"].tolist() == ["a", "b", "c"]
    names = {r.name for r in stored(ws)[1] if r.owner_id == parts.id}
    assert names == {"part-0.csv", "part-1.csv", "_SUCCESS", ".manifest.sha256"}
    assert ws.fsck().ok


def test_folder_of_files_is_stored_and_checked_out(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "imgs" / "cat.png", b"\x89PNG cat")
    write(tmp_path / "imgs" / "labels.txt", "cat\n")
    snap = ws.datasets.register(tmp_path / "imgs", name="images", data_class="public")
    assert (snap.format, snap.rows, snap.profile) == ("files", None, None)
    with pytest.raises(ValidationError, match="not a table"):
        ws.datasets.load("images")
    out = ws.datasets.checkout("images", tmp_path / "out")
    assert (out / "cat.png").read_bytes() == b"\x89PNG cat"
    with pytest.raises(ValidationError, match="contract cannot apply"):
        ws.datasets.register(tmp_path / "imgs", name="images", contract=write(tmp_path / "c.yaml", "columns: {}\n"))


def test_load_verifies_the_stored_bytes(ws: Workspace, csv: Path) -> None:
    snap = ws.datasets.register(csv, name="customers")
    blob = Path(ws.settings.artifacts_url) / "sha256" / snap.id[:2] / snap.id[2:]
    blob.write_bytes(blob.read_bytes().replace(b"free", b"FREE"))
    with pytest.raises(IntegrityError):
        ws.datasets.load("customers")


# --- contract refusal --------------------------------------------------------------------


def test_contract_violation_stores_nothing(ws: Workspace, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "id,age,plan\n1,34,free\n1,17,gold\n3,abc,pro\n")
    with pytest.raises(ValidationError) as err:
        ws.datasets.register(bad, name="customers", contract=write(tmp_path / "contract.yaml", CONTRACT))
    message = err.value.message
    assert "breaks the data contract" in message and "contract.yaml" in message
    assert "id: 2 rows duplicated (unique: true) (e.g. row 0: 1, row 1: 1)" in message
    assert "age: 1 row not int (e.g. row 2: 'abc')" in message
    assert "plan: 1 row not among the allowed values" in message
    by_check = {(v["column"], v["check"]): v["count"] for v in err.value.details["violations"]}
    assert by_check[("age", "min")] == 1
    assert stored(ws) == ([], [], [])
    assert not audit(ws, "dataset.register")


def test_contract_is_kept_with_the_snapshot(ws: Workspace, csv: Path, tmp_path: Path) -> None:
    snap = ws.datasets.register(csv, name="customers", contract=write(tmp_path / "contract.yaml", CONTRACT))
    assert ws.datasets.get(snap.id).contract.columns["age"].max == 99


# --- policy ------------------------------------------------------------------------------


def test_source_off_the_allowlist_is_refused_and_nothing_stored(ws: Workspace, csv: Path) -> None:
    ws.settings.data.allowed_sources = ["s3://corp-lake/*"]
    with pytest.raises(PolicyDenied, match="sources-on-allowlist"):
        ws.datasets.register(csv, name="customers")
    assert stored(ws) == ([], [], [])
    denial = audit(ws, "dataset.register")[-1]
    assert denial.decision == "deny" and "sources-on-allowlist" in denial.policy_ids
    snap = ws.datasets.register(csv, name="customers", source="s3://corp-lake/raw/customers.csv")
    assert snap.source == "s3://corp-lake/raw/customers.csv"


def test_sensitive_data_is_not_read_in_the_sandbox(ws: Workspace, as_user, csv: Path) -> None:  # noqa: ANN001
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.users.add("carol", roles=[Role.APPROVER])
    snap = ws.datasets.register(csv, name="patients", data_class="sensitive")
    for reader in (as_user("bob"), ws):
        for read in (reader.datasets.get, reader.datasets.load, reader.datasets.resolve):
            with pytest.raises(PolicyDenied, match="sandbox-no-sensitive-data"):
                read("patients")
    denial = audit(ws, "dataset.read")[-1]
    assert (denial.decision, denial.resource) == ("deny", f"Dataset:{snap.id}")
    with pytest.raises(PolicyDenied, match="sensitive-data-needs-clearance"):
        as_user("carol", zone="staging").datasets.load("patients")
    for name in ("carol", "alice"):
        ws.users.clear(name, "sensitive", Zone.STAGING)
    for reader in (as_user("carol", zone="staging"), as_user("alice", zone="staging")):
        assert reader.datasets.load("patients").shape == (4, 3)
    assert ws.datasets.list()[0].ref == "patients@v1"


def test_developer_extends_others_datasets_only_in_the_sandbox(
    ws: Workspace,
    as_user,
    csv: Path,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.datasets.register(csv, name="customers")
    v2 = write(tmp_path / "v2" / "customers.csv", CSV_V2)
    with pytest.raises(PolicyDenied):
        as_user("bob", zone="staging").datasets.register(v2, name="customers")
    assert len(stored(ws)[2]) == 1
    assert as_user("bob", zone="staging").datasets.register(v2, name="bobs").created_by == "bob"
    assert as_user("bob").datasets.register(v2, name="customers").version == 2


def test_identical_bytes_keep_one_data_class(ws: Workspace, csv: Path) -> None:
    ws.datasets.register(csv, name="patients", data_class="sensitive")
    with pytest.raises(Conflict, match="already registered as sensitive"):
        ws.datasets.register(csv, name="open_data", data_class="public")
    assert ws.datasets.register(csv, name="patients_copy").data_class == "sensitive"


# --- resolving ---------------------------------------------------------------------------


def test_resolve_by_id_prefix_name_and_version(ws: Workspace, csv: Path, tmp_path: Path) -> None:
    v1 = ws.datasets.register(csv, name="customers")
    v2 = ws.datasets.register(write(tmp_path / "v2.csv", CSV_V2), name="customers")
    resolve = ws.datasets.resolve
    assert resolve(v1.id).ref == "customers@v1"
    assert resolve(v2.id[:8]).ref == resolve(v2.id[:8].upper()).ref == "customers@v2"
    assert resolve("customers").version == 2
    assert resolve("customers@v1").id == resolve("customers@1").id == v1.id
    with pytest.raises(NotFound, match="customers@v3") as err:
        resolve("customers@v3")
    assert "v1..v2" in str(err.value.hint)
    with pytest.raises(NotFound) as err:
        resolve(v1.id[:7])
    assert "at least 8" in str(err.value.hint)
    with pytest.raises(NotFound, match="nobody"):
        resolve("nobody")
    with pytest.raises(ValidationError):
        resolve("customers@latest")


def test_ambiguous_prefix() -> None:
    class Repo:
        def get(self, name: str, version: int | None = None) -> None:
            return None

        def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
            return ["abcdef01" + "0" * 56, "abcdef01" + "1" * 56]

    with pytest.raises(ValidationError, match="ambiguous"):
        find_snapshot(Repo(), "abcdef01")  # type: ignore[arg-type]


def test_diff(ws: Workspace, csv: Path, tmp_path: Path) -> None:
    ws.datasets.register(csv, name="customers")
    ws.datasets.register(write(tmp_path / "v2" / "customers.csv", CSV_V2), name="customers")
    d = ws.datasets.diff("customers@v1", "customers@v2")
    assert (d.identical, d.profile.added, d.profile.rows_a, d.profile.rows_b) == (False, ["score"], 4, 5)
    assert [(c.column, c.a, c.b) for c in d.profile.dtype_changes] == [("age", "float64", "int64")]
    assert (d.files_added, d.files_removed, d.files_changed) == ([], [], [])
    assert ws.datasets.diff("customers@v1", "customers@v1").identical


def test_diff_of_folders_lists_file_changes(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "a" / "keep.txt", "same")
    write(tmp_path / "a" / "edit.txt", "old")
    write(tmp_path / "a" / "gone.txt", "bye")
    write(tmp_path / "b" / "keep.txt", "same")
    write(tmp_path / "b" / "edit.txt", "new")
    write(tmp_path / "b" / "new.txt", "hi")
    ws.datasets.register(tmp_path / "a", name="docs")
    ws.datasets.register(tmp_path / "b", name="docs")
    d = ws.datasets.diff("docs@v1", "docs@v2")
    assert (d.files_added, d.files_removed, d.files_changed) == (["new.txt"], ["gone.txt"], ["edit.txt"])
    assert d.profile is None


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", " ", "a/b", "x@v1", "-lead"])
def test_bad_names(ws: Workspace, csv: Path, name: str) -> None:
    with pytest.raises(ValidationError, match="not a valid dataset name"):
        ws.datasets.register(csv, name=name)


def test_bad_class_source_and_paths(ws: Workspace, csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a data class"):
        ws.datasets.register(csv, name="c", data_class="secret")
    with pytest.raises(ValidationError, match="not a single URI"):
        ws.datasets.register(csv, name="c", source="customers.csv")
    with pytest.raises(NotFound, match="No file or folder"):
        ws.datasets.register(tmp_path / "missing.csv", name="c")
    with pytest.raises(ValidationError, match="neither CSV nor Parquet"):
        ws.datasets.register(write(tmp_path / "notes.txt", "hi"), name="c")
    with pytest.raises(ValidationError, match="holds no files"):
        (tmp_path / "empty").mkdir()
        ws.datasets.register(tmp_path / "empty", name="c")
    assert stored(ws) == ([], [], [])


@pytest.mark.parametrize(
    ("filename", "content", "fmt"),
    [
        ("broken.parquet", b"PAR1 this is not parquet", "PARQUET"),
        ("empty.csv", b"", "CSV"),
        ("binary.csv", bytes(range(256)) * 4, "CSV"),
        ("ragged.csv", b'a,b\n1,2\n3,4,5,6\n"unterminated', "CSV"),
    ],
)
def test_unreadable_files_are_clear_validation_errors(
    ws: Workspace, tmp_path: Path, filename: str, content: bytes, fmt: str
) -> None:
    path = write(tmp_path / filename, content)
    with pytest.raises(ValidationError, match=f"Cannot read .*{filename} as {fmt}"):
        ws.datasets.register(path, name="c")
    assert stored(ws) == ([], [], [])


def test_unknown_reference(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="No dataset or snapshot 'ghost'") as err:
        ws.datasets.get("ghost")
    assert "leanops data list" in str(err.value.hint)
    with pytest.raises(ValidationError):
        ws.datasets.get("")
