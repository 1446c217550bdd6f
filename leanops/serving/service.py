"""ServingService (`ws.serving`): which version a zone may serve, deployments, and their cost.

A server only ever loads what its zone's alias points to, and only when that version may
serve there: approved for the zone when the zone demands approval, and with every package
file re-hashing to its recorded digest. Starting to serve is the audited `deploy` action, so
the policy that guards promotion guards serving too. Uptime and traffic are charged to the
model (`serving` and `predictions` ledger entries tagged with the endpoint), which is what
the weekly report's idle-endpoint list reads.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.cost.ledger import CostKind
from leanops.cost.prices import Usage
from leanops.errors import LeanopsError, NotFound, PolicyDenied
from leanops.guard import Guard
from leanops.policy import Resource
from leanops.ports import Clock
from leanops.registry.models import ModelVersion, check_model_name, promotion_zone
from leanops.serving.models import Deployment
from leanops.serving.predictor import Predictor
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.config import Settings
    from leanops.cost.service import CostService
    from leanops.registry import RegistryService

log = logging.getLogger(__name__)


class ServingService:
    def __init__(
        self,
        guard: Guard,
        models: RegistryService,
        settings: Settings,
        *,
        cost: CostService | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._guard = guard
        self.models = models
        self.settings = settings
        self.cost = cost
        self.clock: Clock = clock or guard.clock

    def log_dir(self, name: str, zone: Zone | str) -> Path:
        """Where the prediction and feedback logs of `name` in `zone` live (shared by replicas)."""
        folder = Path(self.settings.serving.log_dir)
        return (folder if folder.is_absolute() else self.settings.root / folder) / name / str(Zone(zone))

    # -- what may serve ---------------------------------------------------------------------

    def current_version(self, name: str, zone: Zone | str) -> int | None:
        """The version the zone's alias names now: the cheap look-up a server polls."""
        with self._guard.lookup() as unit:
            alias = unit.models.get_alias(name, promotion_zone(zone))
        return alias.version if alias else None

    def resolve(self, name: str, zone: Zone | str) -> ModelVersion:
        """The version `zone` serves, if it may: `NotFound` with no alias, `PolicyDenied` without
        the approval the zone demands, `IntegrityError` when its bytes changed."""
        check_model_name(name)
        zone = promotion_zone(zone)
        with self._guard.lookup() as unit:
            alias = unit.models.get_alias(name, zone)
            approved = alias is not None and bool(unit.models.approvals(name, alias.version, zone))
        if alias is None:
            raise NotFound(
                f"No version of {name} serves in {zone}: there is nothing approved to load.",
                hint=f"Promote one first: leanops promote {name} VERSION --to {zone} --reason '…'",
            )
        rules = self.settings.zones.get(zone)
        if rules is not None and rules.requires_approval and not approved:
            resource = Resource(type="Deployment", id=f"{name}/{alias.version}@{zone}")
            self._guard.refuse("deploy", resource, gate="approval", zone=zone, details={"version": alias.version})
            raise PolicyDenied(
                f"{name} v{alias.version} has no approval for {zone}; a server loads approved versions only.",
                hint=f"leanops models approve {name} {alias.version} --zone {zone} --reason '…'",
            )
        return self.models.verify(name, alias.version)

    def load(self, name: str, zone: Zone | str, *, trusted: tuple[str, ...] = ()) -> Predictor:
        """The zone's version, resolved, verified and loaded, ready to predict."""
        mv = self.resolve(name, zone)
        return Predictor(
            mv, self.models.load(name, mv.version, trusted=trusted), max_rows=self.settings.serving.max_rows
        )

    # -- deployments ------------------------------------------------------------------------

    def start(self, mv: ModelVersion, zone: Zone | str, endpoint: str) -> Deployment:
        """Record (audited, policy-checked as `deploy`) that this process now serves `mv`."""
        zone = promotion_zone(zone)
        deployment = Deployment(
            id=uuid.uuid4().hex,
            name=mv.name,
            version=mv.version,
            zone=zone,
            endpoint=endpoint,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.clock.now(),
            started_by=self._guard.actor.name,
        )
        with self._deploy(deployment, "start", mv.owner) as unit:
            unit.deployments.add(deployment)
        return deployment

    def meter(self, deployment: Deployment, *, requests: int, errors: int) -> Deployment:
        """Charge uptime and traffic since the last reading. `requests` and `errors` are totals
        for the deployment so far; the ledger gets the change."""
        now = self.clock.now()
        since = deployment.metered_at or deployment.started_at
        hours = max((now - since).total_seconds(), 0.0) / 3600
        self._charge(deployment, hours, max(requests - deployment.requests, 0), since, now)
        values: dict[str, Any] = {"requests": requests, "errors": errors, "metered_at": now}
        with self._guard.lookup() as unit:
            unit.deployments.update(deployment.id, **values)
        return deployment.model_copy(update=values)

    def stop(self, deployment: Deployment, *, reason: str, requests: int, errors: int) -> Deployment:
        """End a deployment (the server stopped, or swapped to another version), metered to now."""
        metered = self.meter(deployment, requests=requests, errors=errors)
        values = {"stopped_at": metered.metered_at, "stop_reason": reason}
        with self._deploy(metered, "stop", "", reason=reason, requests=requests) as unit:
            unit.deployments.update(deployment.id, **values)
        return metered.model_copy(update=values)

    def _deploy(self, deployment: Deployment, op: str, owner: str, **details: Any) -> Any:
        with self._guard.lookup() as unit:
            approved = bool(unit.models.approvals(deployment.name, deployment.version, deployment.zone))
        resource = Resource(
            type="Deployment", id=f"{deployment.name}/{deployment.version}@{deployment.zone}", owner=owner
        )
        details = {"op": op, "deployment": deployment.id, "endpoint": deployment.endpoint, **details}
        return self._guard.act(
            "deploy", resource, zone=deployment.zone, context={"approved": approved}, details=details
        )

    def deployments(
        self, name: str | None = None, *, zone: Zone | str | None = None, active: bool | None = None
    ) -> list[Deployment]:
        """Who served which version where, from when to when, with how much traffic."""
        with self._guard.act(
            "deployment.read", Resource(type="Deployment", id=f"{name or '*'}/*"), details={"op": "list"}
        ) as unit:
            return unit.deployments.list(name=name, zone=None if zone is None else str(Zone(zone)), active=active)

    def _charge(self, deployment: Deployment, hours: float, requests: int, since: datetime, now: datetime) -> None:
        if self.cost is None or (hours <= 0 and requests == 0):
            return
        run_tags = self._run_tags(deployment)
        tags = {**run_tags, "zone": str(deployment.zone), "model": deployment.name, "endpoint": deployment.endpoint}
        refs = {"deployment": deployment.id, "version": deployment.version, "endpoint": deployment.endpoint}
        stamp = f"{deployment.id}:{since.isoformat()}:{now.isoformat()}"
        charges = [
            (CostKind.SERVING, Usage(endpoint_hours=hours), "uptime"),
            (CostKind.PREDICTIONS, Usage(requests=requests), "traffic"),
        ]
        try:
            for kind, usage, what in charges:
                if usage.nonzero():
                    self.cost.record_usage(kind, usage, tags=tags, source=f"{what}:{stamp}", at=now, refs=refs)
        except LeanopsError as exc:  # cost accounting must never take a serving endpoint down
            log.warning("could not charge %s: %s", deployment.ref, exc)

    def _run_tags(self, deployment: Deployment) -> dict[str, str]:
        cache = self.__dict__.setdefault("_tags", {})
        key = (deployment.name, deployment.version)
        if key not in cache:
            with self._guard.lookup() as unit:
                mv = next(v for v in unit.models.list_versions(deployment.name) if v.version == deployment.version)
                run = unit.runs.get(mv.run_id)
            cache[key] = {
                k: str(v) for k, v in (run.tags if run else {}).items() if k in ("owner", "cost_center", "team")
            }
        return cache[key]
