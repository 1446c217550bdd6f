"""An incident drill: rehearse a drift incident against a live server, end to end.

Steady normal traffic runs the whole time; then inputs drift. The drill evaluates the
model's monitoring until its critical drift alert fires, checks the alert answers what
happened, why it matters and what to do (and links a runbook), waits for the server to swap
to the rollback version, and counts requests that failed meanwhile. Every step passes or
fails on its own, so the report shows where the process breaks (the seed: "run a simulated
incident to see where the process breaks").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from leanops.alerts import Tier
from leanops.errors import ValidationError

SCENARIOS = ("drift",)


@dataclass
class DrillStep:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class DrillReport:
    model: str
    zone: str
    scenario: str
    steps: list[DrillStep] = field(default_factory=list)
    time_to_detect_s: float | None = None
    time_to_rollback_s: float | None = None
    requests: int = 0
    failed: int = 0

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.passed for s in self.steps)

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.steps.append(DrillStep(name, passed, detail))
        return passed


class _Traffic:
    """Requests in a loop from one thread; which rows it sends can change under it."""

    def __init__(self, url: str, rows: list[dict[str, Any]]) -> None:
        self.url, self.rows = url, rows
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                batch = self.rows[i % len(self.rows) : i % len(self.rows) + 10] or self.rows[:10]
                try:
                    ok = client.post("/predict", json={"records": batch}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += 1
                self.failed += not ok
                i += 10

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def drifted(frame: pd.DataFrame, profile: Any, shift_std: float = 4.0) -> pd.DataFrame:
    """The same rows with every numeric input moved by `shift_std` of its training spread."""
    out = frame.copy()
    for column in out.columns:
        ref = profile.column(column) if profile is not None else None
        if ref is not None and ref.kind == "numeric" and ref.std:
            out[column] = out[column] + shift_std * ref.std
    return out


def run_drill(
    ws: Any, name: str, zone: str, url: str, *, scenario: str = "drift", timeout: float = 60.0, poll: float = 1.0
) -> DrillReport:
    """Rehearse `scenario` against the server at `url` serving `name` in `zone`."""
    if scenario not in SCENARIOS:
        raise ValidationError(f"Unknown drill scenario {scenario!r}.", hint=f"Use one of: {', '.join(SCENARIOS)}.")
    report = DrillReport(model=name, zone=zone, scenario=scenario)
    ready = httpx.get(f"{url}/ready", timeout=5).json()
    if not report.check(
        "server serves the model",
        ready.get("model") == name and ready.get("zone") == zone,
        f"{url} serves {ready.get('model')} v{ready.get('version')} in {ready.get('zone')}",
    ):
        return report
    version = ready["version"]
    mv = ws.models.get(name, version)
    profile = ws.monitoring.reference_profile(mv)
    columns = mv.manifest.input_columns() or []
    source = next((d.ref for d in mv.lineage.datasets if d.ref), None)
    if not report.check("training data to send", bool(source and columns), f"from {source}"):
        return report
    normal = ws.datasets.load(source)[columns].head(500)
    with _Traffic(url, normal.to_dict("records")) as traffic:
        time.sleep(2 * poll)
        calm = ws.monitoring.run(name, zone)
        critical_before = [e for e in calm.events if e.kind == "fire" and e.alert.tier is Tier.CRITICAL]
        report.check(
            "normal traffic raises no critical alert",
            not critical_before,
            ", ".join(e.alert.check for e in critical_before),
        )
        traffic.rows = drifted(normal, profile).to_dict("records")
        started = time.monotonic()
        alert = None
        while alert is None and time.monotonic() - started < timeout:
            time.sleep(poll)
            fired = ws.monitoring.run(name, zone).events
            alert = next((e.alert for e in fired if e.kind == "fire" and e.alert.tier is Tier.CRITICAL), None)
        if report.check(
            "the drift is detected by a critical alert",
            alert is not None,
            f"within {timeout:g}s" if alert is None else alert.what_happened(),
        ):
            report.time_to_detect_s = round(time.monotonic() - started, 2)
            report.check(
                "the alert says why it matters, what to do, and links a runbook",
                bool(alert.why and alert.next_steps and alert.runbook),
                f"why={bool(alert.why)} next_steps={bool(alert.next_steps)} runbook={alert.runbook or '-'}",
            )
            rolled = alert.rollback or {}
            if report.check("the zone was rolled back automatically", "to" in rolled, str(rolled)):
                while time.monotonic() - started < timeout:
                    if httpx.get(f"{url}/ready", timeout=5).json()["version"] == rolled["to"]:
                        report.time_to_rollback_s = round(time.monotonic() - started, 2)
                        break
                    time.sleep(0.1)
                report.check(
                    "the server swapped to the rollback version",
                    report.time_to_rollback_s is not None,
                    f"v{version} → v{rolled['to']}",
                )
        time.sleep(0.5)  # requests in flight across the swap finish
    report.requests, report.failed = traffic.sent, traffic.failed
    report.check("no request failed during the incident", traffic.failed == 0, f"{traffic.failed} of {traffic.sent}")
    return report
