"""`monitoring/<model>.yaml`: what to watch, over which window, and when to tell whom.

    window: 1h                      # default window for every check
    rollback_on_critical: true      # a firing critical rolls the zone back (the policy still decides)
    checks:
      - check: drift                # psi per feature against the training snapshot's profile
        features: [age, spend]      # default: every input column the profile knows
        warning: {threshold: 0.1, for: 15m}
        critical: {threshold: 0.25}
        why: Inputs no longer look like the data the model learned from.
        next_steps: Compare the upstream feed with the training snapshot; retrain if it is real.
        runbook: runbooks/churn.md
      - check: latency_p95_ms
        warning: {threshold: 50, for: 5m}

Thresholds are checked in order when the config is read: for checks where higher is worse,
info <= warning <= critical; where lower is worse (accuracy, auc), the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, Field, model_validator

from leanops.config import DurationSeconds, read_yaml, yaml_problems
from leanops.errors import ConfigError

MONITORING_DIR = "monitoring"
# Each check, and whether a higher value is worse (False: lower is worse).
CHECKS: dict[str, bool] = {
    "drift": True,  # the largest PSI over the features
    "drift_js": True,  # the largest Jensen-Shannon distance
    "prediction_drift": True,  # PSI of the predicted score (or value) against the first window seen
    "null_rate": True,
    "out_of_range_rate": True,
    "latency_p50_ms": True,
    "latency_p95_ms": True,
    "latency_p99_ms": True,
    "error_rate": True,
    "ece": True,
    "brier": True,
    "accuracy": False,
    "auc": False,
    "mae": True,
    "outcome_mean": False,
}


class Level(BaseModel, extra="forbid"):
    threshold: float
    for_: DurationSeconds = Field(0.0, alias="for", description="How long the condition must hold (warnings)")


class CheckConfig(BaseModel, extra="forbid"):
    check: str
    features: list[str] | None = None
    window: DurationSeconds | None = None
    min_rows: int = Field(1, ge=1, description="Fewer rows in the window: reported as no data, never a breach")
    info: Level | None = None
    warning: Level | None = None
    critical: Level | None = None
    why: str = ""
    next_steps: str = ""
    runbook: str = ""

    @model_validator(mode="after")
    def _known_and_ordered(self) -> CheckConfig:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; known: {', '.join(CHECKS)}")
        levels = [(n, lv.threshold) for n in ("info", "warning", "critical") if (lv := getattr(self, n)) is not None]
        if not levels:
            raise ValueError("give at least one of info, warning or critical with a threshold")
        values = [v for _, v in levels]
        ordered = values == sorted(values) if CHECKS[self.check] else values == sorted(values, reverse=True)
        if not ordered:
            worse = "higher" if CHECKS[self.check] else "lower"
            shown = ", ".join(f"{n} {v:g}" for n, v in levels)
            raise ValueError(f"thresholds out of order ({shown}): for {self.check} {worse} is worse")
        return self

    @property
    def higher_is_worse(self) -> bool:
        return CHECKS[self.check]


class MonitoringConfig(BaseModel, extra="forbid"):
    window: DurationSeconds = Field(3600.0, description="Default window of every check")
    rollback_on_critical: bool = True
    checks: list[CheckConfig] = Field(default_factory=list)


def monitoring_path(root: Path, name: str) -> Path:
    return root / MONITORING_DIR / f"{name}.yaml"


def load_monitoring(root: Path, name: str) -> MonitoringConfig:
    """The model's monitoring config; `ConfigError` names the file, line and key."""
    path = monitoring_path(root, name)
    if not path.is_file():
        raise ConfigError(
            f"No monitoring config for {name} at {path}.",
            hint=f"Write {MONITORING_DIR}/{name}.yaml with `checks:` (see docs/monitoring.md).",
        )
    raw: dict[str, Any] = read_yaml(path)
    try:
        return MonitoringConfig(**raw)
    except pydantic.ValidationError as exc:
        problems = yaml_problems(exc, path)
        raise ConfigError(
            "Invalid monitoring config:\n  " + "\n  ".join(problems),
            hint="Fix the key named above; docs/monitoring.md shows the file's shape.",
            problems=problems,
        ) from None
