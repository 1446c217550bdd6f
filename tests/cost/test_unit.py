"""Unit economics: per training run, per successful deployment, per 1,000 predictions, per incident."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from leanops.cost import Usage
from leanops.cost.ledger import CostKind, LedgerEntry
from leanops.cost.unit import deployments_from_moves, incidents_from_moves, unit_economics
from leanops.flavors import ModelManifest
from leanops.registry.models import AliasMove, Lineage, Manifest, ModelVersion
from tests.cost.conftest import T0

H = timedelta(hours=1)


def _e(kind: str, amount: str, at_hours: float, **refs: object) -> LedgerEntry:
    return LedgerEntry(
        at=T0 + at_hours * H,
        kind=kind,
        amount=Decimal(amount),
        tags={"model": "churn"},
        source=f"{kind}:{at_hours}:{refs}",
        refs=refs,
        usage=Usage(requests=float(refs.pop("requests", 0))),
    )  # type: ignore[arg-type]


def _move(action: str, version: int, at_hours: float, previous: int | None = None, zone: str = "production"):  # noqa: ANN202
    return SimpleNamespace(action=action, version=version, previous=previous, zone=zone, at=T0 + at_hours * H)


MOVES = [
    _move("promote", 1, 10),
    _move("promote", 2, 20, previous=1),
    _move("rollback", 1, 21, previous=2),  # v2 caused an incident: not a successful deployment
    _move("promote", 3, 30, previous=1),
    _move("promote", 3, 5, zone="staging"),
]


def test_deployments_and_incidents_from_alias_moves() -> None:
    deployments = deployments_from_moves(MOVES, "production")
    assert [(d.version, d.successful) for d in deployments] == [(1, True), (2, False), (3, True)]
    assert incidents_from_moves(MOVES) == 1


def test_the_four_unit_costs() -> None:
    entries = [
        _e("job_attempt", "2", 1, job_id="a"),
        _e("job_attempt", "1", 2, job_id="a"),  # one run, retried
        _e("evaluation", "0.5", 9),
        _e("job_attempt", "4", 15, job_id="b"),
        _e("job_attempt", "3", 25, job_id="c"),
        _e("serving", "6", 40, requests=3000),
        _e("predictions", "0.03", 40, requests=0),
        _e("monitoring", "1.2", 40),
    ]
    u = unit_economics("churn", entries, deployments_from_moves(MOVES, "production"), incidents=1)
    assert (u.training_runs, u.training_cost, u.cost_per_training_run) == (3, Decimal("10.000000"), Decimal("3.333333"))
    # v1: 2 + 1 + 0.5 up to hour 10; v3: 4 + 3 since then (v2 was rolled back, its spend rolls into v3).
    assert [(d.version, d.cost) for d in u.deployments] == [(1, Decimal("3.500000")), (3, Decimal("7.000000"))]
    assert u.cost_per_deployment == Decimal("5.250000")
    assert (u.predictions, u.cost_per_1k_predictions) == (3000, Decimal("2.010000"))
    assert u.cost_per_incident_avoided == Decimal("1.200000")
    assert u.total == Decimal("17.730000") and u.notes == []


def test_missing_denominators_say_so_instead_of_zero() -> None:
    u = unit_economics("churn", [_e("monitoring", "1", 1)], [], incidents=0)
    assert u.cost_per_1k_predictions is None and u.cost_per_incident_avoided is None
    assert u.notes == [
        "no training runs yet",
        "no successful deployments yet",
        "no predictions yet",
        "no incidents caught yet",
    ]


def test_the_service_joins_the_ledger_with_the_registry(cws) -> None:  # noqa: ANN001
    tags = {"owner": "alice", "cost_center": "ml"}
    cws.cost.record_usage("evaluation", Usage(cpu_hours=2), tags=tags | {"model": "churn"}, source="ev1", at=T0 - 2 * H)
    cws.cost.record_usage("monitoring", Usage(cpu_hours=4), tags=tags | {"model": "fraud"}, source="mon1")
    with cws._store.transaction() as unit:
        unit.models.add_version(
            ModelVersion(
                name="churn",
                version=1,
                run_id="r1",
                owner="alice",
                created_at=T0 - 3 * H,
                created_by="alice",
                manifest=Manifest(flavor="sklearn", files=[], package=ModelManifest(flavor="sklearn")),
                lineage=Lineage(run_id="r1", run_owner="alice"),
            )
        )
        move = AliasMove(
            name="churn", zone="production", version=1, action="promote", actor="carol", at=T0 - H, reason=""
        )
        unit.models.add_move(move)
    u = cws.cost.unit("churn")
    assert (u.evaluation_cost, [d.cost for d in u.deployments]) == (Decimal("0.100000"), [Decimal("0.100000")])
    assert "no predictions yet" in u.notes and u.monitoring_cost == 0
    assert any(r.action == "cost.read" and r.resource == "Model:churn" for r in cws.audit.tail(5))
    assert CostKind.EVALUATION == "evaluation"
