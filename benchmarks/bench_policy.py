# ruff: noqa: E402  (the repo root goes on sys.path before leanops is imported)
"""Policy decisions per second: leanops' engine against calling cedarpy by hand.

    python benchmarks/bench_policy.py [--seconds 3]

The hand-rolled baselines are what a user wiring Cedar themselves would write: read the
policy and schema files and pass their text to `cedarpy.is_authorized` with an entity list.
Their inputs are built before timing, so they are measured at their best; leanops' `decide`
is measured whole (request model in, decision model out). Variants run interleaved in short
slices so a noisy machine affects them alike. Results go to benchmarks/results/policy.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cedarpy

from leanops.adapters.cedar import DEFAULT_BUNDLE, SCHEMA_FILE, CedarPolicyEngine
from leanops.policy import (
    ACTION_GROUPS,
    ROLE_PARENTS,
    PolicyRequest,
    Resource,
    Role,
    default_context,
)
from leanops.zones import Zone

SLICE_SECONDS = 0.2


def mixed_requests() -> list[PolicyRequest]:
    """A spread of roles, actions, zones, owners and contexts that hits permits and forbids."""
    cases = [
        ([Role.VIEWER], "model.read", "Model", {}),
        ([Role.VIEWER], "run.create", "Run", {}),
        ([Role.VIEWER], "token.create", "Token", {}),
        ([Role.DEVELOPER], "run.create", "Run", {}),
        ([Role.DEVELOPER], "dataset.read", "Dataset", {"data_class": "sensitive"}),
        ([Role.DEVELOPER], "dataset.register", "Dataset", {"source_allowed": False}),
        ([Role.DEVELOPER], "model.promote", "ModelVersion", {"approved": True}),
        ([Role.APPROVER], "model.approve", "ModelVersion", {}),
        ([Role.APPROVER], "deploy", "Deployment", {"approved": True}),
        ([Role.APPROVER], "job.run", "Job", {"tagged": False}),
        ([Role.ADMIN], "user.manage", "User", {}),
        ([Role.ADMIN], "model.register", "ModelVersion", {"metadata_complete": False}),
    ]
    out = []
    for (roles, action, rtype, context), zone, owner in itertools.product(cases, Zone, ("alice", "bob")):
        resource = Resource(type=rtype, id=f"{rtype.lower()}-1", owner=owner)
        out.append(
            PolicyRequest(
                principal="alice",
                roles=roles,
                action=action,
                resource=resource,
                zone=zone,
                context=context,
            )
        )
    return out


def raw_inputs(request: PolicyRequest, *, with_actions: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The request and entity list a hand-rolled integration passes to cedarpy."""
    roles = [
        {
            "uid": {"type": "Role", "id": str(r)},
            "attrs": {},
            "parents": [{"type": "Role", "id": str(p)}] if p else [],
        }
        for r, p in ROLE_PARENTS.items()
    ]
    user = {
        "uid": {"type": "User", "id": request.principal},
        "attrs": {"name": request.principal, "owner": request.principal},
        "parents": [{"type": "Role", "id": str(r)} for r in request.roles],
    }
    res = request.resource
    entities = [*roles, user]
    if res.type == "User":
        if res.id != request.principal:
            entities.append(
                {
                    "uid": {"type": "User", "id": res.id},
                    "attrs": {"name": res.id, "owner": res.owner or res.id},
                    "parents": [],
                }
            )
    else:
        entities.append({"uid": {"type": res.type, "id": res.id}, "attrs": {"owner": res.owner}, "parents": []})
    if with_actions:  # without a schema Cedar only knows action groups from entities
        for group, actions in ACTION_GROUPS.items():
            entities.append({"uid": {"type": "Action", "id": group}, "attrs": {}, "parents": []})
            entities += [
                {
                    "uid": {"type": "Action", "id": a},
                    "attrs": {},
                    "parents": [{"type": "Action", "id": group}],
                }
                for a in actions
            ]
    cedar_request = {
        "principal": f'User::"{request.principal}"',
        "action": f'Action::"{request.action}"',
        "resource": f'{res.type}::"{res.id}"',
        "context": default_context(request.zone, request.context),
    }
    return cedar_request, entities


def run(variants: dict[str, Callable[[int], bool]], n: int, seconds: float) -> dict[str, dict[str, float]]:
    """Round-robin slices until every variant has run `seconds`; per-call latencies in µs."""
    spent = dict.fromkeys(variants, 0.0)
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    position = dict.fromkeys(variants, 0)
    clock = time.perf_counter_ns
    while min(spent.values()) < seconds:
        for name, call in variants.items():
            samples, i = latencies[name], position[name]
            end = time.perf_counter() + SLICE_SECONDS
            start = time.perf_counter()
            while time.perf_counter() < end:
                t0 = clock()
                call(i % n)
                samples.append((clock() - t0) / 1000)
                i += 1
            position[name] = i
            spent[name] += time.perf_counter() - start
    return {
        name: {
            "decisions": len(samples),
            "per_second": len(samples) / (sum(samples) / 1e6),
            "median_us": statistics.median(samples),
            "p99_us": statistics.quantiles(samples, n=100)[98],
        }
        for name, samples in latencies.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per variant")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "policy.json")
    args = parser.parse_args()

    engine = CedarPolicyEngine.load([])
    requests = mixed_requests()
    # Cold: every request names a resource never seen, so the entity cache never helps.
    cold = [
        r.model_copy(update={"resource": r.resource.model_copy(update={"id": f"cold-{i}"})})
        for i, r in zip(range(20_000), itertools.cycle(requests), strict=False)
    ]
    policies_text, schema_text = DEFAULT_BUNDLE.read_text(), SCHEMA_FILE.read_text()
    with_schema = [raw_inputs(r, with_actions=False) for r in requests]
    without_schema = [raw_inputs(r, with_actions=True) for r in requests]

    expected = [engine.decide(r).allowed for r in requests]
    for label, inputs, schema in (
        ("with schema", with_schema, schema_text),
        ("no schema", without_schema, None),
    ):
        got = [cedarpy.is_authorized(req, policies_text, ents, schema).allowed for req, ents in inputs]
        assert got == expected, f"hand-rolled ({label}) disagrees with the engine"

    n = len(requests)
    variants: dict[str, Callable[[int], bool]] = {
        "leanops decide": lambda i: engine.decide(requests[i]).allowed,
        "leanops decide, cold entity cache": lambda i: engine.decide(cold[i % len(cold)]).allowed,
        "cedarpy by hand: policy + schema text": lambda i: (
            cedarpy.is_authorized(with_schema[i][0], policies_text, with_schema[i][1], schema_text).allowed
        ),
        "cedarpy by hand: policy text, no schema": lambda i: (
            cedarpy.is_authorized(without_schema[i][0], policies_text, without_schema[i][1]).allowed
        ),
    }
    results = run(variants, n, args.seconds)
    base = results["leanops decide"]["per_second"]
    for r in results.values():
        r["leanops_speedup"] = base / r["per_second"]

    print(f"{len(requests)} mixed requests ({sum(expected)} allowed), {args.seconds:g}s per variant\n")
    print(f"{'variant':42} {'decisions/s':>12} {'median µs':>10} {'p99 µs':>9} {'leanops is':>11}")
    for name, r in results.items():
        print(
            f"{name:42} {r['per_second']:12,.0f} {r['median_us']:10.1f} {r['p99_us']:9.1f} "
            f"{r['leanops_speedup']:10.1f}x"
        )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "policy decisions",
                "seconds_per_variant": args.seconds,
                "requests": len(requests),
                "allowed": sum(expected),
                "policies": len(engine.policies()),
                "python": platform.python_version(),
                "cedarpy": version("cedarpy"),
                "machine": f"{platform.system()} {platform.machine()}",
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
