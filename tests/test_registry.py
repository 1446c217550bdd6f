"""The model registry: rules and decisions as plain functions, then the service on each backend."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from leanops.errors import (
    ConfigError,
    Conflict,
    IncompleteMetadata,
    IntegrityError,
    NotFound,
    PolicyDenied,
    ValidationError,
)
from leanops.identity import PrincipalKind
from leanops.policy import Role
from leanops.registry import (
    AliasMove,
    Check,
    Evidence,
    EvidenceItem,
    Requirement,
    previous_approved,
    serving_stack,
)
from leanops.registry.evaluation import (
    compute_metrics,
    latency_p95_ms,
    monitoring_config,
    run_test_command,
)
from leanops.registry.rules import (
    EvaluationSpec,
    PromotionRules,
    evaluate_thresholds,
    evidence_gaps,
    load_rules,
    served_intervals,
    weaker_than,
)
from leanops.zones import Zone, default_zone_rules

T0 = datetime(2025, 1, 1, tzinfo=UTC)
RULES = """\
owner: churn-team
evaluation:
  dataset: holdout@v1
  target: label
thresholds: ["auc >= {auc}", "accuracy >= 0.7", "latency_p95_ms <= 2000"]
test_command: {python} -c "print('model tests ok')"
first_release: true
monitoring: {{drift_threshold: 0.2}}
"""


# --- rules and pure decisions ------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_rules(root: Path, text: str) -> Path:
    """Write models/churn.yaml and commit it: release evidence is judged only by committed rules."""
    path = write(root / "models" / "churn.yaml", text)
    git(root, "add", "models/churn.yaml")
    git(root, "commit", "-q", "-m", "promotion rules")
    return path


def test_thresholds_parse_and_zone_requirements_merge(tmp_path: Path) -> None:
    rules, digest = load_rules(
        write(
            tmp_path / "r.yaml",
            """\
evaluation: {dataset: d@v1, target: y}
thresholds: ["auc >= 0.85", "latency_p95_ms<=50"]
zones:
  production:
    thresholds: ["auc >= 0.9"]
  staging:
    requires: [thresholds]
""",
        )
    )
    assert [str(t) for t in rules.thresholds] == ["auc >= 0.85", "latency_p95_ms <= 50"]
    assert len(digest) == 64
    prod = rules.requirement(Zone.PRODUCTION, default_zone_rules()[Zone.PRODUCTION])
    assert prod.thresholds == ["auc >= 0.9", "latency_p95_ms <= 50"]
    assert prod.checks == [
        Check.METADATA,
        Check.INTEGRITY,
        Check.THRESHOLDS,
        Check.TESTS,
        Check.MONITORING,
        Check.OWNER,
        Check.ROLLBACK_TARGET,
    ]
    # A rules file can narrow a zone's checks, but never drop metadata and integrity.
    assert rules.requirement(Zone.STAGING).checks == [Check.METADATA, Check.INTEGRITY, Check.THRESHOLDS]


def test_weaker_rules_are_named_and_stricter_ones_are_not() -> None:
    base = {"evaluation": {"dataset": "h@v1", "target": "y"}, "test_command": "pytest"}
    committed = PromotionRules(**base, thresholds=["auc >= 0.8", "latency_p95_ms <= 50"])
    stricter = PromotionRules(**base, thresholds=["auc >= 0.9", "latency_p95_ms <= 20", "f1 >= 0.5"])
    assert weaker_than(stricter, committed, Zone.STAGING, None) == []
    looser = PromotionRules(**base | {"first_release": True}, thresholds=["latency_p95_ms <= 80"])
    assert weaker_than(looser, committed, Zone.STAGING, None) == [
        "loosens or leaves out 'auc >= 0.8'",
        "loosens or leaves out 'latency_p95_ms <= 50' (has 'latency_p95_ms <= 80')",
        "allows a first release with nothing to roll back to",
    ]


@pytest.mark.parametrize(
    ("text", "key", "line", "reason"),
    [
        ('evaluation: {dataset: d, target: y}\nthresholds: ["auc >> 0.8"]\n', "thresholds.0", 2, "not of the form"),
        ('evaluation: {dataset: d, target: y}\nthresholds:\n  - "auc >= high"\n', "thresholds.0", 3, "not a number"),
        (
            'evaluation: {dataset: d, target: y}\nthresholds: ["gini >= 0.8"]\n',
            "thresholds.0",
            2,
            "unknown metric 'gini'",
        ),
        ('owner: x\nthresholds: ["auc >= 0.8"]\n', "thresholds", 2, "need an `evaluation:` section"),
        ('evaluation:\n  dataset: d\nthresholds: ["auc >= 0.8"]\n', "evaluation", 1, "evaluation.target"),
        ("owner: x\ntest_comand: pytest\n", "test_comand", 2, "unknown key"),
        ("zones:\n  prod:\n    requires: [tests]\n", "zones.prod", 2, "Input should be"),
        ("zones:\n  production:\n    requires: [tests, smoke]\n", "zones.production.requires.1", 3, "Input should be"),
        ("test_timeout_seconds: -1\n", "test_timeout_seconds", 1, "greater than 0"),
    ],
)
def test_malformed_rules_name_file_line_and_key(
    tmp_path: Path, text: str, key: str, line: int | None, reason: str
) -> None:
    path = write(tmp_path / "models" / "churn.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    where = f"{path}:{line}" if line else str(path)
    assert f"{where}: key '{key}'" in err.value.message and reason in err.value.message


def test_invalid_yaml_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", "owner: x\nthresholds: [auc >= 0.8\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:3:1: invalid YAML"):
        load_rules(path)


def test_evaluate_thresholds_never_passes_unmeasured_values() -> None:
    rules = PromotionRules(
        evaluation=EvaluationSpec(dataset="d", target="y"), thresholds=["auc >= 0.8", "rmse <= 1", "f1 > 0.5"]
    )
    items = evaluate_thresholds({"auc": 0.81, "rmse": float("nan")}, rules.thresholds)
    assert [(i.name, i.passed) for i in items] == [("auc >= 0.8", True), ("rmse <= 1", False), ("f1 > 0.5", False)]
    assert items[0].data["value"] == 0.81 and items[2].detail.startswith("f1 = not measured")


def evidence(items: list[EvidenceItem], zone: Zone = Zone.STAGING) -> Evidence:
    return Evidence(
        id="e1",
        name="m",
        version=1,
        zone=zone,
        created_at=T0,
        created_by="bob",
        requirement=Requirement(zone=zone, checks=[]),
        items=items,
    )


def item(check: Check, passed: bool = True, name: str | None = None) -> EvidenceItem:
    return EvidenceItem(check=check, name=name or str(check), passed=passed, detail="x")


def test_evidence_gaps_judge_against_the_requirement_in_force() -> None:
    need = Requirement(
        zone=Zone.STAGING,
        checks=[Check.METADATA, Check.INTEGRITY, Check.THRESHOLDS, Check.TESTS],
        thresholds=["auc >= 0.8"],
    )
    good = evidence(
        [
            item(Check.METADATA),
            item(Check.INTEGRITY),
            item(Check.THRESHOLDS, name="auc >= 0.8"),
            item(Check.TESTS),
            item(Check.OWNER, passed=False),
        ]
    )
    assert evidence_gaps(good, need) == []  # a failed check the zone does not demand does not count
    assert "no evidence for staging" in evidence_gaps(None, need)[0]
    assert evidence_gaps(good, need.model_copy(update={"zone": Zone.PRODUCTION}))[0].startswith(
        "evidence e1 is for staging"
    )
    stricter = need.model_copy(update={"thresholds": ["auc >= 0.9"], "checks": [*need.checks, Check.MONITORING]})
    assert evidence_gaps(good, stricter) == ["auc >= 0.9: not measured", "monitoring: not checked"]
    failing = evidence([*good.items[:3], item(Check.TESTS, passed=False)])
    assert evidence_gaps(failing, need) == ["tests: x"]


def move(zone: str, version: int, action: str = "promote", minute: int = 0) -> AliasMove:
    return AliasMove(
        name="m",
        zone=Zone(zone),
        version=version,
        action=action,
        actor="carol",
        at=T0 + timedelta(minutes=minute),
        reason="r",
    )  # type: ignore[arg-type]


def test_previous_approved_skips_rolled_back_and_unapproved_versions() -> None:
    moves = [move("production", 1), move("staging", 9), move("production", 2), move("production", 3)]
    assert serving_stack(moves, Zone.PRODUCTION) == [1, 2, 3]
    assert previous_approved(moves, Zone.PRODUCTION) == 2
    assert previous_approved(moves, Zone.PRODUCTION, approved={1, 3}) == 1
    # After rolling back 3 → 2, the next rollback goes to 1, never forward to the bad release.
    moves.append(move("production", 2, "rollback"))
    assert serving_stack(moves, Zone.PRODUCTION) == [1, 2]
    assert previous_approved(moves, Zone.PRODUCTION) == 1
    # As evidence for promoting v4: where a rollback would go once v4 serves.
    assert previous_approved(moves, Zone.PRODUCTION, current=4) == 2
    assert previous_approved([move("production", 1)], Zone.PRODUCTION) is None
    assert previous_approved([], Zone.PRODUCTION, current=1) is None


def test_served_intervals_close_when_the_alias_moves() -> None:
    served = served_intervals(
        [
            move("production", 1, minute=0),
            move("staging", 1, minute=1),
            move("production", 2, minute=5),
            move("production", 1, "rollback", minute=9),
        ]
    )
    assert [(s.zone, s.version, s.since.minute, s.until.minute if s.until else None) for s in served] == [
        (Zone.PRODUCTION, 1, 0, 5),
        (Zone.STAGING, 1, 1, None),
        (Zone.PRODUCTION, 2, 5, 9),
        (Zone.PRODUCTION, 1, 9, None),
    ]


def test_metrics_for_classifiers_and_regressors() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame = x.assign(y=(x.a + 0.3 * x.b > 0).astype(int))
    clf = LogisticRegression().fit(x, frame.y)
    spec = EvaluationSpec(dataset="d", target="y")
    got = compute_metrics(clf, frame, spec, ["accuracy", "auc", "f1", "precision", "recall"], ["a", "b"])
    assert (
        got["auc"] > 0.95
        and 0.9 < got["accuracy"] <= 1
        and set(got) == {"accuracy", "auc", "f1", "precision", "recall"}
    )
    reg_frame = x.assign(y=2 * x.a - x.b)
    reg = LinearRegression().fit(x, reg_frame.y)
    got = compute_metrics(reg, reg_frame, spec, ["rmse", "mae", "r2"])
    assert got["rmse"] < 1e-9 and got["mae"] < 1e-9 and got["r2"] == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="lacks the model's input column"):
        compute_metrics(clf, frame, spec, ["accuracy"], ["a", "c"])


def test_latency_is_the_p95_of_timed_predict_batches() -> None:
    ticks = iter(np.arange(0, 100, 0.001))  # each timer call advances 1 ms
    calls: list[int] = []
    p95 = latency_p95_ms(
        lambda batch: calls.append(len(batch)), pd.DataFrame({"a": range(10)}), 4, 20, timer=lambda: next(ticks)
    )
    assert p95 == pytest.approx(1.0) and calls == [4] * 21  # one warm-up call, then 20 timed ones


def test_test_command_keeps_exit_code_and_output(tmp_path: Path) -> None:
    ok = run_test_command(f'{sys.executable} -c "print(42)"', tmp_path, 30)
    assert ok.passed and ok.exit_code == 0 and ok.output.strip() == "42"
    bad = run_test_command(f"{sys.executable} -c \"import sys; print('x' * 9000); sys.exit(3)\"", tmp_path, 30)
    assert not bad.passed and bad.exit_code == 3 and "characters cut" in bad.output and len(bad.output) < 4200
    slow = run_test_command(f'{sys.executable} -c "import time; time.sleep(5)"', tmp_path, 0.3)
    assert slow.timed_out and not slow.passed and "timed out" in slow.output
    missing = run_test_command("no-such-tool --flag", tmp_path, 5)
    assert missing.exit_code is None and "cannot run 'no-such-tool'" in missing.output
    # No shell: metacharacters reach the program as arguments.
    echoed = run_test_command(f'{sys.executable} -c "import sys; print(sys.argv[1:])" ";" "rm"', tmp_path, 30)
    assert "[';', 'rm']" in echoed.output


def test_monitoring_readiness_is_a_file_or_a_rules_section(tmp_path: Path) -> None:
    assert monitoring_config(tmp_path, "churn", PromotionRules())[0] is False
    assert monitoring_config(tmp_path, "churn", PromotionRules(monitoring={"drift": 0.2}))[0] is True
    write(tmp_path / "monitoring" / "churn.yaml", "checks: [drift]\n")
    ok, data = monitoring_config(tmp_path, "churn", PromotionRules())
    assert ok and data["keys"] == ["checks"]
    write(tmp_path / "monitoring" / "churn.yaml", "checks: [drift\n")
    ok, data = monitoring_config(tmp_path, "churn", PromotionRules(monitoring={"drift": 0.2}))
    assert not ok and "invalid YAML" in data["error"]


# --- the service, on SQLite and PostgreSQL --------------------------------------------------------


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def team(ws, as_user, project: Path):  # noqa: ANN001, ANN201
    """bob (developer) and carol (approver) in a git-tracked project with a training and a holdout set."""
    git(project, "init", "-q")
    git(project, "commit", "-q", "--allow-empty", "-m", "init")
    git(project, "remote", "add", "origin", "https://git.example.com/churn.git")
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.users.add("carol", roles=[Role.APPROVER])
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"age": rng.normal(40, 10, 300), "spend": rng.normal(0, 1, 300)})
    frame = x.assign(label=((x.age - 40) / 10 + x.spend + rng.normal(0, 0.5, 300) > 0).astype(int))
    frame[:200].to_csv(project / "train.csv", index=False)
    frame[200:].to_csv(project / "holdout.csv", index=False)
    bob = as_user("bob")
    bob.datasets.register(project / "train.csv", name="train")
    bob.datasets.register(project / "holdout.csv", name="holdout")
    write_rules(project, RULES.format(auc=0.8, python=sys.executable))
    return SimpleNamespace(
        admin=ws,
        bob=bob,
        carol=as_user("carol"),
        root=project,
        x=x[:200],
        y=frame.label[:200],
        commit=git(project, "rev-parse", "HEAD"),
    )


def train(who, team, *, c: float = 1.0, name: str = "churn", **start):  # noqa: ANN001, ANN201
    """A complete tracked run with a logged scikit-learn model; returns the run id."""
    from sklearn.linear_model import LogisticRegression

    start = {
        "datasets": ["train@v1"],
        "features": ["age", "spend"],
        "tags": {"owner": "bob", "cost_center": "ml"},
    } | start
    with who.runs.start(f"{name} C={c}", params={"C": c}, **start) as run:
        model = LogisticRegression(C=c).fit(team.x, team.y)
        run.log_metric("train_accuracy", model.score(team.x, team.y))
        run.log_model(model, input_example=team.x)
    return run.id


def test_incomplete_run_is_refused_with_what_is_missing(team) -> None:  # noqa: ANN001
    run_id = train(team.bob, team, datasets=[], features=[])
    with pytest.raises(IncompleteMetadata) as err:
        team.bob.models.register(run_id, "churn")
    assert {"datasets", "features"} <= set(err.value.details["missing"])
    assert team.admin.models.list() == []


def test_register_keeps_manifest_lineage_and_loads_back(team) -> None:  # noqa: ANN001
    run_id = train(team.bob, team)
    mv = team.bob.models.register(run_id, "churn", description="baseline")
    assert (mv.name, mv.version, mv.owner, mv.manifest.flavor) == ("churn", 1, "bob", "sklearn")
    assert mv.manifest.input_columns() == ["age", "spend"]
    assert {f.path for f in mv.manifest.files} == {"leanops-model.json", "model.skops"}
    lin = mv.lineage
    assert lin.missing() == [] and lin.code.commit == team.commit and lin.features == ["age", "spend"]
    assert [d.ref for d in lin.datasets] == ["train@v1"] and lin.parent is None
    with team.admin._store.transaction() as unit:
        assert {r.name for r in unit.refs.for_owner("model", "churn/1")} == {"leanops-model.json", "model.skops"}
    model = team.carol.models.load("churn", 1)
    assert model.predict(team.x[:3]).shape == (3,)
    with pytest.raises(Conflict, match="already churn/v1"):
        team.bob.models.register(run_id, "churn")
    v2 = team.bob.models.register(train(team.bob, team, c=0.5), "churn")
    assert v2.version == 2 and v2.lineage.parent == 1
    report = team.admin.models.lineage("churn", "latest")
    assert [a["version"] for a in report.ancestors] == [1] and report.run["params"] == {"C": "0.5"}


def test_release_path_evidence_approval_promotion_history_and_rollback(team) -> None:  # noqa: ANN001
    bob, carol = team.bob, team.carol
    team.bob.models.register(train(bob, team), "churn")

    ev = bob.models.evaluate("churn", 1, "staging")
    assert ev.passed, ev.failures
    got = {i.name: i for i in ev.items}
    assert got["auc >= 0.8"].data["snapshot_ref"] == "holdout@v1" and got["auc >= 0.8"].data["value"] > 0.8
    assert got["tests"].data["exit_code"] == 0 and "model tests ok" in got["tests"].data["output"]
    assert not got["monitoring"].required  # production demands it, staging does not
    carol.models.promote("churn", 1, "staging", reason="passes the holdout")

    carol.models.evaluate("churn", 1, "production")
    with pytest.raises(PolicyDenied, match="production-deploy-needs-approval"):
        carol.models.promote("churn", 1, "production", reason="no approval yet")
    approval = carol.models.approve("churn", 1, "production", reason="holdout auc fine, tests pass")
    assert approval.approver == "carol" and approval.evidence_id == carol.models.evidence("churn", 1, "production").id
    first = carol.models.promote("churn", 1, "production", reason="first release")
    assert (first.version, first.previous, first.approval_id) == (1, None, approval.id)

    with pytest.raises(Conflict, match="no earlier approved version") as err:
        carol.models.rollback("churn", "production", reason="panic")
    assert err.value.exit_code == 5

    team.bob.models.register(train(bob, team, c=0.1), "churn")
    ev2 = carol.models.evaluate("churn", 2, "production")
    assert {i.name: i.data for i in ev2.items}["rollback_target"] == {"previous_approved": 1}
    carol.models.approve("churn", 2, "production", reason="better calibrated")
    carol.models.promote("churn", 2, "production", reason="v2")
    with pytest.raises(Conflict, match="already serves"):
        carol.models.promote("churn", 2, "production", reason="again")

    back = carol.models.rollback("churn", "production", reason="latency alert")
    assert (back.version, back.previous, back.action, back.actor) == (1, 2, "rollback", "carol")
    assert team.admin.models.get("churn", "production").version == 1

    hist = team.admin.models.history("churn")
    assert [(m.zone, m.action, m.previous, m.version, m.reason) for m in hist.moves] == [
        ("staging", "promote", None, 1, "passes the holdout"),
        ("production", "promote", None, 1, "first release"),
        ("production", "promote", 1, 2, "v2"),
        ("production", "rollback", 2, 1, "latency alert"),
    ]
    assert [(s.zone, s.version, s.until is None) for s in hist.served if s.zone == Zone.PRODUCTION] == [
        (Zone.PRODUCTION, 1, False),
        (Zone.PRODUCTION, 2, False),
        (Zone.PRODUCTION, 1, True),
    ]
    assert team.admin.audit.verify().ok
    records = team.admin.audit.tail(200)
    refused = [r for r in records if r.decision == "deny" and r.action == "model.promote"]
    assert refused and refused[0].policy_ids == ["production-deploy-needs-approval"]
    assert {"model.register", "model.evaluate", "model.approve", "model.promote", "model.rollback"} <= {
        r.action for r in records if r.decision == "allow"
    }


def test_evaluation_is_charged_to_the_model(team) -> None:  # noqa: ANN001
    team.bob.models.register(train(team.bob, team), "churn")
    ev = team.bob.models.evaluate("churn", 1, "staging")
    [entry] = team.admin.cost.ledger(zone="staging", kind="evaluation")
    assert entry.source == f"evaluation:{ev.id}" and entry.amount > 0
    assert (entry.tags["model"], entry.tags["owner"], entry.tags["cost_center"]) == ("churn", "bob", "ml")
    assert team.admin.cost.unit("churn").evaluation_cost == entry.amount


def test_a_refused_charge_keeps_the_evidence(team, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from leanops.errors import BudgetExceeded

    team.bob.models.register(train(team.bob, team), "churn")

    def refuse(*args: object, **kwargs: object) -> None:
        raise BudgetExceeded("untagged spend is refused in staging")

    monkeypatch.setattr(team.bob.cost, "record_usage", refuse)
    with pytest.raises(BudgetExceeded):
        team.bob.models.evaluate("churn", 1, "staging")
    assert team.admin.models.evidence("churn", 1, "staging") is not None  # measured, kept


def test_release_evidence_is_judged_only_by_committed_rules(team) -> None:  # noqa: ANN001
    team.bob.models.register(train(team.bob, team), "churn")
    lenient = RULES.format(auc=0.0, python=sys.executable).replace("first_release: true\n", "")
    write(team.root / "models" / "churn.yaml", lenient)  # edited, not committed
    with pytest.raises(PolicyDenied, match="models/churn.yaml has uncommitted changes"):
        team.bob.models.evaluate("churn", 1, "staging")
    git(team.root, "checkout", "models/churn.yaml")
    ev = team.bob.models.evaluate("churn", 1, "staging")
    assert ev.rules_commit == git(team.root, "rev-parse", "HEAD") and ev.rules_file == "models/churn.yaml"
    gated = [r for r in team.admin.audit.tail(50) if r.policy_ids == ["gate:rules"]]
    assert [(r.actor, r.action, r.decision) for r in gated] == [("bob", "model.evaluate", "deny")]


def test_a_rules_file_weaker_than_the_committed_one_is_refused(team) -> None:  # noqa: ANN001
    team.bob.models.register(train(team.bob, team), "churn")
    weak = "evaluation: {dataset: holdout@v1, target: label}\nthresholds: ['auc >= 0.5']\nzones: {staging: {requires: []}}\n"
    write(team.root / "models" / "mine.yaml", weak)
    git(team.root, "add", "models/mine.yaml")
    git(team.root, "commit", "-q", "-m", "my own rules")
    with pytest.raises(PolicyDenied, match="weaker than the committed models/churn.yaml") as err:
        team.bob.models.evaluate("churn", 1, "staging", rules="models/mine.yaml")
    message = str(err.value)
    assert "drops the tests check" in message and "loosens or leaves out 'auc >= 0.8' (has 'auc >= 0.5')" in message
    assert "leaves out 'accuracy >= 0.7'" in message and "runs another test command" in message
    assert team.admin.models.evidence("churn", 1, "staging") is None
    strict = RULES.format(auc=0.81, python=sys.executable).replace("accuracy >= 0.7", "accuracy >= 0.75")
    write(team.root / "models" / "mine.yaml", strict)
    git(team.root, "commit", "-q", "-am", "stricter")
    ev = team.bob.models.evaluate("churn", 1, "staging", rules="models/mine.yaml")
    assert ev.rules_file == "models/mine.yaml" and "auc >= 0.81" in ev.requirement.thresholds


def test_loosening_the_rules_after_evaluation_does_not_lower_the_bar(team) -> None:  # noqa: ANN001
    team.bob.models.register(train(team.bob, team), "churn")
    write_rules(team.root, RULES.format(auc=0.999, python=sys.executable))
    assert not team.bob.models.evaluate("churn", 1, "staging").passed
    write(team.root / "models" / "churn.yaml", "owner: churn-team\nzones: {staging: {requires: []}}\n")
    with pytest.raises(Conflict, match="evidence does not pass"):
        team.carol.models.promote("churn", 1, "staging", reason="the working copy says it is fine")


def test_promotion_without_passing_evidence_is_refused(team) -> None:  # noqa: ANN001
    team.bob.models.register(train(team.bob, team), "churn")
    with pytest.raises(Conflict, match="no evidence for staging"):
        team.carol.models.promote("churn", 1, "staging", reason="trust me")
    write_rules(team.root, RULES.format(auc=0.999, python=sys.executable))
    ev = team.bob.models.evaluate("churn", 1, "staging")
    assert not ev.passed and [i.name for i in ev.failures] == ["auc >= 0.999"]
    with pytest.raises(Conflict, match=r"auc >= 0.999: auc = .* \(misses >= 0.999\)"):
        team.carol.models.promote("churn", 1, "staging", reason="close enough")
    with pytest.raises(Conflict, match="evidence does not pass"):
        team.carol.models.approve("churn", 1, "staging", reason="close enough")
    assert team.admin.models.aliases("churn") == []
    gated = [r for r in team.admin.audit.tail(50) if r.policy_ids == ["gate:evidence"]]
    assert [(r.actor, r.action, r.decision) for r in gated] == [
        ("carol", "model.promote", "deny"),
        ("carol", "model.promote", "deny"),
        ("carol", "model.approve", "deny"),
    ]
    assert "auc >= 0.999" in " ".join(gated[-1].details["gaps"])


def test_self_approval_is_denied_by_policy(team) -> None:  # noqa: ANN001
    team.carol.models.register(train(team.carol, team), "churn")
    team.carol.models.evaluate("churn", 1, "production")
    with pytest.raises(PolicyDenied, match="no-self-approval"):
        team.carol.models.approve("churn", 1, "production", reason="I checked it myself")
    with pytest.raises(PolicyDenied):
        team.bob.models.approve("churn", 1, "production", reason="developers cannot approve")
    with pytest.raises(PolicyDenied, match="only-approvers-promote-to-production"):
        team.bob.models.promote("churn", 1, "production", reason="no")


def test_hash_mismatched_artifact_cannot_be_promoted(team) -> None:  # noqa: ANN001
    mv = team.bob.models.register(train(team.bob, team), "churn")
    assert team.bob.models.evaluate("churn", 1, "staging").passed
    digest = next(f.digest for f in mv.manifest.files if f.path == "model.skops")
    blob = Path(team.admin.settings.artifacts_url) / "sha256" / digest[:2] / digest[2:]
    blob.write_bytes(blob.read_bytes()[:-10] + b"tampered!!")
    with pytest.raises(IntegrityError, match="model.skops no longer matches its hash"):
        team.carol.models.promote("churn", 1, "staging", reason="evidence predates the damage")
    [refusal] = [r for r in team.admin.audit.tail(20) if r.policy_ids == ["gate:integrity"]]
    assert (refusal.action, refusal.decision, refusal.resource) == ("model.promote", "deny", "ModelVersion:churn/1")
    ev = team.bob.models.evaluate("churn", 1, "staging")
    assert {i.name: i.passed for i in ev.items}["integrity"] is False and not ev.passed
    assert team.admin.models.aliases("churn") == []
    # Damage is caught at registration too.
    run_id = train(team.bob, team, c=0.3)
    ref = next(r for r in team.admin.runs.artifacts_of(run_id) if r.name.endswith("model.skops"))
    blob = Path(team.admin.settings.artifacts_url) / "sha256" / ref.digest[:2] / ref.digest[2:]
    blob.write_bytes(b"not a model")
    with pytest.raises(IntegrityError, match=f"run {run_id} is damaged"):
        team.bob.models.register(run_id, "churn")


JOB_ENTRYPOINT = """\
from leanops.jobs import context
from leanops.workspace import Workspace


def main(C: float = 1.0) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    ctx = context()
    train = ctx.load_dataset()
    x, y = train[["age", "spend"]], train["label"]
    model = LogisticRegression(C=C).fit(x, y)
    ws = Workspace.from_config(ctx.root)
    ws.runs.log_model(ws.runs.get(ctx.run_id), model, input_example=x)
    return {"train_accuracy": model.score(x, y)}
"""


def test_lineage_is_complete_for_a_version_made_by_a_job_run(team) -> None:  # noqa: ANN001
    write(team.root / "train_entry.py", JOB_ENTRYPOINT)
    spec = write(
        team.root / "jobs" / "train.yaml",
        """\
name: train-churn
entrypoint: train_entry:main
owner: bob
deadline: 120
params: {C: 0.5}
datasets: [train@v1]
features: [age, spend]
tags: {cost_center: ml}
""",
    )
    git(team.root, "add", "train_entry.py", "jobs")
    git(team.root, "commit", "-q", "-m", "training job")
    job = team.bob.jobs.run(spec)
    assert str(job.status) == "succeeded" and job.run_id, job.reason
    run_id = job.run_id
    mv = team.bob.models.register(run_id, "churn")
    report = team.admin.models.lineage("churn", mv.version)
    lin = report.model.lineage
    assert lin.missing() == [] and lin.job_id == job.id and lin.run_id == run_id
    assert [d.ref for d in lin.datasets] == ["train@v1"] and lin.features == ["age", "spend"]
    assert (lin.code.commit, lin.code.remote) == (
        git(team.root, "rev-parse", "HEAD"),
        "https://git.example.com/churn.git",
    )
    assert report.run["params"]["C"] == "0.5" and report.run["metrics"]["train_accuracy"] > 0.5


def test_lineage_of_a_run_carrying_a_job_id(team) -> None:  # noqa: ANN001
    # What a job's run carries (leanops.job_id, datasets, features, commit), made directly.
    run_id = train(team.bob, team, tags={"owner": "bob", "cost_center": "ml", "leanops.job_id": "job-42"})
    team.bob.models.register(run_id, "churn")
    report = team.admin.models.lineage("churn", 1)
    lin = report.model.lineage
    assert lin.missing() == [] and lin.job_id == "job-42" and lin.run_id == run_id
    assert (lin.code.commit, lin.code.remote) == (team.commit, "https://git.example.com/churn.git")
    assert report.run["status"] == "finished" and report.run["metrics"]["train_accuracy"] > 0.5
    unpromotable = train(team.bob, team, tags={"owner": "bob", "cost_center": "ml", "leanops.promotable": "false"})
    with pytest.raises(Conflict, match="uncommitted changes"):
        team.bob.models.register(unpromotable, "churn")


def test_rollback_by_a_service_account_with_the_approver_role(team, as_user) -> None:  # noqa: ANN001
    carol = team.carol
    for c in (1.0, 0.2):
        mv = team.bob.models.register(train(team.bob, team, c=c), "churn")
        carol.models.evaluate("churn", mv.version, "production")
        carol.models.approve("churn", mv.version, "production", reason="ok")
        carol.models.promote("churn", mv.version, "production", reason=f"v{mv.version}")
    team.admin.users.add("monitor", kind=PrincipalKind.SERVICE, roles=[Role.APPROVER])
    token = team.admin.users.create_token("monitor").plaintext
    move = as_user(token=token).models.rollback("churn", "production", reason="auto: error-rate alert")
    assert (move.version, move.previous, move.actor) == (1, 2, "monitor")


def test_unknown_model_version_zone_and_missing_rules(team) -> None:  # noqa: ANN001
    models = team.admin.models
    with pytest.raises(NotFound, match="No model 'nope'"):
        models.get("nope")
    with pytest.raises(NotFound, match="No model 'nope'"):
        models.rollback("nope", "production", reason="x")
    team.bob.models.register(train(team.bob, team), "churn")
    with pytest.raises(NotFound, match="No version 7 of churn"):
        models.evaluate("churn", 7, "staging")
    with pytest.raises(ValidationError, match="not a model version"):
        models.get("churn", "seven")
    with pytest.raises(ValidationError, match="Unknown zone 'prod'"):
        models.promote("churn", 1, "prod", reason="x")
    with pytest.raises(ValidationError, match="not a promotion zone"):
        models.evaluate("churn", 1, "sandbox")
    with pytest.raises(NotFound, match="No version of churn serves in production"):
        models.get("churn", "production")
    with pytest.raises(Conflict, match="never been promoted to staging"):
        team.carol.models.rollback("churn", "staging", reason="x")
    with pytest.raises(ValidationError, match="reason is required"):
        team.carol.models.promote("churn", 1, "staging", reason="  ")
    (team.root / "models" / "churn.yaml").unlink()
    with pytest.raises(NotFound, match="No promotion rules for churn"):
        team.bob.models.evaluate("churn", 1, "staging")
    write(team.root / "models" / "churn.yaml", "thresholds: [auc >= 0.8]\n")
    with pytest.raises(ConfigError, match=r"churn\.yaml"):
        team.bob.models.evaluate("churn", 1, "staging")


def test_migration_matches_the_registry_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from leanops.adapters.sql.store import SqlStore
    from leanops.adapters.sql.tables import metadata

    store = SqlStore(f"sqlite:///{tmp_path / 'schema.db'}")
    store.upgrade()
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    ours = [d for d in diffs if "model_" in repr(d)]
    assert ours == []
