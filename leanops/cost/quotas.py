"""Per-zone quotas on what one job may hold: CPU cores, memory and GPUs.

Deadline, concurrency and sweep-size quotas live with the jobs (`jobs.quotas.<zone>`) and are
enforced there; the resource limits sit in the same `ZoneQuota` and are enforced here, at cost
admission, because what a job may hold is what it may cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leanops.errors import BudgetExceeded
from leanops.zones import Zone

GIB = 2**30


def check_resources(name: str, zone: Zone | str, resources: Mapping[str, Any], quota: Any) -> None:
    """Refuse (`BudgetExceeded`) a job declaring more CPU, memory or GPUs than the zone allows.

    A limit left unset (null) is no limit.
    """
    zone = Zone(zone)
    declared = {
        "cpu": float(resources.get("cpu", 1.0)),
        "memory": int(resources.get("memory", 0)),
        "gpu": int(resources.get("gpu", 0)),
    }
    over = [
        (key, value, limit)
        for key, value in declared.items()
        if (limit := getattr(quota, f"max_{key}", None)) is not None and value > limit
    ]
    if over:
        what = "; ".join(f"{key} {_show(key, value)} > {_show(key, limit)}" for key, value, limit in over)
        keys = ", ".join(f"jobs.quotas.{zone}.max_{key}" for key, _, _ in over)
        raise BudgetExceeded(
            f"Job {name} asks for more than the {zone} quota per job: {what}.",
            hint=f"Declare less under `resources:`, or raise {keys} in leanops.yaml.",
        )


def _show(key: str, value: float) -> str:
    return f"{value / GIB:g}Gi" if key == "memory" else f"{value:g}"
