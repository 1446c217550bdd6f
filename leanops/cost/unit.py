"""Unit economics of one model, computed from whatever the ledger holds.

- cost per training run: training spend ÷ training jobs (retries belong to their job);
- cost per successful deployment: training + evaluation spend since the previous successful
  deployment, for each one (a promotion later rolled back was not a success: its spend rolls
  into the next one);
- cost per 1,000 predictions: serving + prediction spend ÷ predictions × 1,000;
- cost per incident avoided: monitoring spend ÷ incidents caught and ended by a rollback.

A figure with nothing to divide by is None with a note ("no predictions yet"), never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from leanops.cost.ledger import CostKind, LedgerEntry
from leanops.cost.prices import money


class Deployment(BaseModel):
    version: int
    zone: str
    at: datetime
    successful: bool = True


class DeploymentCost(BaseModel):
    version: int
    at: datetime
    cost: Decimal


class UnitEconomics(BaseModel):
    model: str
    currency: str
    total: Decimal = Decimal(0)
    training_runs: int = 0
    training_cost: Decimal = Decimal(0)
    cost_per_training_run: Decimal | None = None
    evaluation_cost: Decimal = Decimal(0)
    deployments: list[DeploymentCost] = Field(default_factory=list)
    cost_per_deployment: Decimal | None = None
    predictions: int = 0
    serving_cost: Decimal = Decimal(0)
    cost_per_1k_predictions: Decimal | None = None
    incidents: int = 0
    monitoring_cost: Decimal = Decimal(0)
    cost_per_incident_avoided: Decimal | None = None
    notes: list[str] = Field(default_factory=list)


def belongs(entry: LedgerEntry, model: str, run_ids: set[str], job_ids: set[str]) -> bool:
    """An entry is the model's if tagged with it, or if it trained one of its versions."""
    return (
        entry.tags.get("model") == model or entry.refs.get("run_id") in run_ids or entry.refs.get("job_id") in job_ids
    )


def deployments_from_moves(moves: Iterable[Any], zone: str) -> list[Deployment]:
    """Promotions into `zone`, each marked unsuccessful if a later rollback moved away from it."""
    ordered = sorted(moves, key=lambda m: m.at)
    out: list[Deployment] = []
    for i, move in enumerate(ordered):
        if str(move.zone) != zone or move.action != "promote":
            continue
        rolled_back = any(
            str(m.zone) == zone and m.action == "rollback" and m.previous == move.version for m in ordered[i + 1 :]
        )
        out.append(Deployment(version=move.version, zone=zone, at=move.at, successful=not rolled_back))
    return out


def incidents_from_moves(moves: Iterable[Any]) -> int:
    """Incidents ended by a rollback: each rollback move is one."""
    return sum(1 for m in moves if m.action == "rollback")


def unit_economics(
    model: str,
    entries: Iterable[LedgerEntry],
    deployments: Iterable[Deployment],
    incidents: int,
    *,
    currency: str = "USD",
) -> UnitEconomics:
    """The four unit costs of `model` from its ledger entries, deployments and incidents."""
    entries = sorted(entries, key=lambda e: e.at)
    out = UnitEconomics(model=model, currency=currency, incidents=incidents)
    sums = {kind: Decimal(0) for kind in CostKind}
    jobs: set[str] = set()
    for entry in entries:
        sums[entry.kind] += entry.amount
        if entry.kind is CostKind.JOB_ATTEMPT:
            jobs.add(str(entry.refs.get("job_id") or entry.source))
        if entry.kind in (CostKind.SERVING, CostKind.PREDICTIONS):
            out.predictions += int(entry.usage.requests)
    out.total = money(sum(sums.values(), Decimal(0)))
    out.training_cost, out.evaluation_cost = money(sums[CostKind.JOB_ATTEMPT]), money(sums[CostKind.EVALUATION])
    out.serving_cost = money(sums[CostKind.SERVING] + sums[CostKind.PREDICTIONS])
    out.monitoring_cost = money(sums[CostKind.MONITORING])
    out.training_runs = len(jobs)
    if jobs:
        out.cost_per_training_run = money(out.training_cost / len(jobs))
    else:
        out.notes.append("no training runs yet")

    previous: datetime | None = None
    for deployment in sorted((d for d in deployments if d.successful), key=lambda d: d.at):
        spent = sum(
            (
                e.amount
                for e in entries
                if e.kind in (CostKind.JOB_ATTEMPT, CostKind.EVALUATION)
                and (previous is None or e.at > previous)
                and e.at <= deployment.at
            ),
            Decimal(0),
        )
        out.deployments.append(DeploymentCost(version=deployment.version, at=deployment.at, cost=money(spent)))
        previous = deployment.at
    if out.deployments:
        out.cost_per_deployment = money(sum((d.cost for d in out.deployments), Decimal(0)) / len(out.deployments))
    else:
        out.notes.append("no successful deployments yet")

    if out.predictions:
        out.cost_per_1k_predictions = money(out.serving_cost * 1000 / out.predictions)
    else:
        out.notes.append("no predictions yet")
    if incidents:
        out.cost_per_incident_avoided = money(out.monitoring_cost / incidents)
    else:
        out.notes.append("no incidents caught yet")
    return out
