"""MonitorService (`ws.monitoring`): evaluate a model's checks over its prediction log, turn them
into alerts, send what must be sent, and roll back on a firing critical.

One evaluation reads each window once with DuckDB, computes every check, steps each
(check, tier) alert through `leanops.alerts.step`, stores the alerts, notifies, and — where
the config allows and the policy lets the actor — rolls the zone back to the previous
approved version through the registry, recording the rollback and its cause on the alert.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leanops.alerts import Alert, Event, Observation, Tier, step, suppress
from leanops.errors import LeanopsError, NotFound
from leanops.guard import Guard
from leanops.monitoring.config import CheckConfig, MonitoringConfig, load_monitoring
from leanops.monitoring.stats import FeatureDrift, auc, calibration, drift
from leanops.monitoring.window import read_window
from leanops.policy import Resource
from leanops.registry.models import promotion_zone
from leanops.serving.predlog import INPUT_PREFIX
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.config import Settings
    from leanops.ports import Notifier
    from leanops.registry import RegistryService
    from leanops.serving import ServingService

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    check: str
    value: float | None
    rows: int
    window_seconds: float
    breached: list[str] = field(default_factory=list)  # tiers whose threshold the value crossed
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        return self.value is None


@dataclass
class MonitorReport:
    model: str
    zone: str
    version: int
    results: list[CheckResult]
    events: list[Event]
    rollback: dict[str, Any] | None = None


class MonitorService:
    def __init__(
        self, guard: Guard, models: RegistryService, serving: ServingService, notifier: Notifier, settings: Settings
    ) -> None:
        self._guard = guard
        self.models = models
        self.serving = serving
        self.notifier = notifier
        self.settings = settings

    def config(self, name: str) -> MonitoringConfig:
        return load_monitoring(self.settings.root, name)

    def run(self, name: str, zone: Zone | str) -> MonitorReport:
        """Evaluate every check of `name` in `zone` once; alerts stepped, stored and sent."""
        zone = promotion_zone(zone)
        config = self.config(name)
        mv, results, _ = self.evaluate(name, zone, config)
        version = mv.version
        now = self._guard.clock.now()
        resource = Resource(type="Alert", id=f"{name}@{zone}", owner=mv.owner)
        details: dict[str, Any] = {"op": "monitor", "version": version, "checks": len(results)}
        with self._guard.act("monitor.run", resource, zone=zone, context={"tagged": True}, details=details) as unit:
            active = {a.key: a for a in unit.alerts.list(model=name, zone=str(zone), active=True)}
            events: list[Event] = []
            for check, result in zip(config.checks, results, strict=True):
                for tier, level in self._levels(check):
                    seen = self._observation(check, tier, level, result, version)
                    key = (name, str(zone), check.check, str(tier))
                    alert, out = step(active.get(key), seen, model=name, zone=zone, now=now)
                    if alert is not None:
                        unit.alerts.save(alert)
                        active[key] = alert
                    events += out
            events = suppress(events, [a for a in active.values() if a.active])
            details["fired"] = [e.alert.id for e in events if e.kind == "fire"]
        rollback = self._roll_back(name, zone, config, events)
        for event in events:
            self._send(event)
        return MonitorReport(
            model=name, zone=str(zone), version=version, results=results, events=events, rollback=rollback
        )

    def evaluate(
        self, name: str, zone: Zone | str, config: MonitoringConfig | None = None
    ) -> tuple[Any, list[CheckResult], dict[float, pd.DataFrame]]:
        """Every check's value over its window, with no alert stepped: (version, results, windows)."""
        zone = promotion_zone(zone)
        config = config or self.config(name)
        version = self.serving.current_version(name, zone)
        if version is None:
            raise NotFound(f"No version of {name} serves in {zone}: nothing to monitor.")
        mv = self.models.get(name, version)
        reference = self.reference_profile(mv)
        now = self._guard.clock.now()
        windows: dict[float, pd.DataFrame] = {}
        results = []
        for check in config.checks:
            seconds = check.window or config.window
            if seconds not in windows:
                windows[seconds] = read_window(self.serving.log_dir(name, zone), now, seconds)
            results.append(self._evaluate(check, windows[seconds], seconds, reference, name, zone))
        return mv, results, windows

    # -- alerts -------------------------------------------------------------------------------

    def alerts(
        self, name: str | None = None, *, zone: Zone | str | None = None, active: bool | None = None
    ) -> list[Alert]:
        with self._guard.act("alert.read", Resource(type="Alert", id=f"{name or '*'}@{zone or '*'}")) as unit:
            return unit.alerts.list(model=name, zone=None if zone is None else str(Zone(zone)), active=active)

    def alert(self, alert_id: str) -> Alert:
        with self._guard.act("alert.read", Resource(type="Alert", id=alert_id)) as unit:
            return self._find(unit, alert_id)

    def ack(self, alert_id: str) -> Alert:
        """Someone is on it: recorded, audited; the alert keeps its state until it clears."""
        with self._guard.lookup() as unit:
            found = self._find(unit, alert_id)
        now = self._guard.clock.now()
        resource = Resource(type="Alert", id=found.id)
        with self._guard.act("alert.ack", resource, zone=found.zone, context={"tagged": True}) as unit:
            unit.alerts.update(found.id, acked_by=self._guard.actor.name, acked_at=now)
        return found.model_copy(update={"acked_by": self._guard.actor.name, "acked_at": now})

    @staticmethod
    def _find(unit: Any, alert_id: str) -> Alert:
        ids = unit.alerts.ids_with_prefix(alert_id)
        if len(ids) != 1:
            why = "No alert" if not ids else "More than one alert starts with"
            raise NotFound(f"{why} {alert_id!r}.", hint="`leanops alerts list` shows them.")
        return unit.alerts.get(ids[0])

    # -- evaluation ---------------------------------------------------------------------------

    def reference_profile(self, mv: Any) -> Any:
        """The training snapshot's stored profile: drift is measured against what the model learned."""
        for link in mv.lineage.datasets:
            with self._guard.lookup() as unit:
                snapshots = unit.datasets.for_content(link.id)
            if snapshots and snapshots[0].profile is not None:
                return snapshots[0].profile
        return None

    @staticmethod
    def _levels(check: CheckConfig) -> list[tuple[Tier, Any]]:
        return [(Tier(n), lv) for n in ("info", "warning", "critical") if (lv := getattr(check, n)) is not None]

    def _evaluate(
        self, check: CheckConfig, frame: pd.DataFrame, seconds: float, reference: Any, name: str, zone: Zone
    ) -> CheckResult:
        requests = frame.drop_duplicates("request_id") if len(frame) else frame
        value, details, rows = None, {}, len(frame)
        kind = check.check
        if kind in ("drift", "drift_js", "null_rate", "out_of_range_rate"):
            value, details = self._inputs(kind, check, frame, reference)
        elif kind.startswith("latency_p") and len(requests):
            q = int(kind.removeprefix("latency_p").removesuffix("_ms"))
            value, rows = float(np.percentile(requests.latency_ms, q)), len(requests)
        elif kind == "error_rate":
            value, rows, details = self._error_rate(name, zone)
        elif kind in ("ece", "brier", "accuracy", "auc", "mae"):
            value, rows, details = _labelled(kind, frame)
        elif kind == "outcome_mean" and len(frame):
            outcomes = frame.drop_duplicates("request_id").outcome.dropna()
            rows = len(outcomes)
            value = float(outcomes.mean()) if rows else None
            delay = frame.feedback_delay_s.dropna()
            details = {"median_delay_s": float(delay.median())} if len(delay) else {}
        if rows < check.min_rows:
            value = None
        result = CheckResult(check=kind, value=value, rows=rows, window_seconds=seconds, details=details)
        for tier, level in self._levels(check):
            if value is not None and _crosses(value, level.threshold, check.higher_is_worse):
                result.breached.append(str(tier))
        return result

    def _inputs(self, kind: str, check: CheckConfig, frame: pd.DataFrame, reference: Any) -> tuple[float | None, dict]:
        if not len(frame) or reference is None:
            return None, {"reason": "no data" if not len(frame) else "no reference profile"}
        names = check.features or [c.name for c in reference.columns if f"{INPUT_PREFIX}{c.name}" in frame]
        per: dict[str, float] = {}
        drifts: list[FeatureDrift] = []
        for feature in names:
            column, ref = frame.get(f"{INPUT_PREFIX}{feature}"), reference.column(feature)
            if column is None or ref is None:
                continue
            if kind in ("drift", "drift_js"):
                if (found := drift(column, ref)) is not None:
                    drifts.append(found)
                    per[feature] = found.psi if kind == "drift" else found.js_distance
            elif kind == "null_rate":
                per[feature] = float(column.isna().mean())
            elif ref.kind == "numeric" and ref.min is not None and ref.max is not None:
                values = pd.to_numeric(column, errors="coerce").dropna()
                per[feature] = float(((values < ref.min) | (values > ref.max)).mean()) if len(values) else 0.0
        if not per:
            return None, {"reason": "no feature to compare"}
        details: dict[str, Any] = {"per_feature": per}
        if drifts:
            details["drift"] = [d.model_dump() for d in drifts]
        worst = max(per, key=per.__getitem__)
        return per[worst], details | {"worst": worst}

    def _error_rate(self, name: str, zone: Zone) -> tuple[float | None, int, dict]:
        with self._guard.lookup() as unit:
            live = unit.deployments.list(name=name, zone=str(zone), active=True)
        served = sum(d.requests for d in live)
        errors = sum(d.errors for d in live)
        total = served + errors
        return (errors / total if total else None), total, {"errors": errors, "requests": served}

    def _observation(
        self, check: CheckConfig, tier: Tier, level: Any, result: CheckResult, version: int
    ) -> Observation:
        minutes = result.window_seconds / 60
        window = f"the last {minutes:g} min, {result.rows} rows" + (" (no data)" if result.no_data else "")
        return Observation(
            check=check.check,
            tier=tier,
            breached=str(tier) in result.breached,
            value=result.value,
            threshold=level.threshold,
            op=">=" if check.higher_is_worse else "<=",
            window=window,
            version=version,
            why=check.why or f"{check.check} past its {tier} threshold",
            next_steps=check.next_steps or "Look at the monitoring report and the runbook.",
            runbook=check.runbook,
            for_seconds=level.for_,
        )

    def _roll_back(self, name: str, zone: Zone, config: MonitoringConfig, events: list[Event]) -> dict | None:
        fired = [e.alert for e in events if e.kind == "fire" and e.alert.tier is Tier.CRITICAL]
        if not fired or not config.rollback_on_critical:
            return None
        cause = fired[0]
        try:
            move = self.models.rollback(name, zone, reason=f"critical alert {cause.id[:8]}: {cause.what_happened()}")
            outcome: dict[str, Any] = {"from": move.previous, "to": move.version, "by": move.actor, "at": str(move.at)}
        except LeanopsError as exc:  # nothing to go back to, or the policy says no: say so on the alert
            outcome = {"error": exc.message}
        with self._guard.lookup() as unit:
            for alert in fired:
                unit.alerts.update(alert.id, rollback=outcome)
                alert.rollback = outcome
        return outcome

    def _send(self, event: Event) -> None:
        if not event.send:
            return
        alert = event.alert
        verb = "RESOLVED" if event.kind == "resolve" else alert.tier.upper()
        subject = f"[{verb}] {alert.model}@{alert.zone}: {alert.check}"
        try:
            self.notifier.send(subject, alert.text(), severity=str(alert.tier), alert=alert.id, state=str(alert.state))
        except Exception as exc:  # noqa: BLE001 - a failing sink never stops monitoring
            log.warning("could not send %s: %s", subject, exc)


def _crosses(value: float, threshold: float, higher_is_worse: bool) -> bool:
    return value >= threshold if higher_is_worse else value <= threshold


def _labelled(kind: str, frame: pd.DataFrame) -> tuple[float | None, int, dict]:
    if not len(frame) or "label" not in frame:
        return None, 0, {"reason": "no labels yet"}
    rows = frame[frame.label.notna()]
    if not len(rows):
        return None, 0, {"reason": "no labels yet"}
    y = np.array([float(json.loads(v)) for v in rows.label])
    predicted = np.array([float(json.loads(v)) for v in rows.prediction])
    if kind == "mae":
        return float(np.mean(np.abs(predicted - y))), len(rows), {}
    if kind == "accuracy":
        return float(np.mean(predicted == y)), len(rows), {}
    score = np.array([p[-1] if p is not None and len(p) else np.nan for p in rows.probabilities], dtype=float)
    if kind == "auc":
        return auc(y, score), len(rows), {}
    cal = calibration(y, score)
    return cal[kind], len(rows), {"curve": cal["curve"]}
