"""What serving records: a deployment is one server process serving one version in one zone.

A hot swap ends the deployment of the old version and starts one for the new, so "who served
what, where, from when to when" is a plain list, and uptime and traffic are metered per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from leanops.zones import Zone


class Deployment(BaseModel):
    id: str
    name: str
    version: int
    zone: Zone
    endpoint: str = Field(description="Where it listens, host:port, or batch:<file> for batch scoring")
    host: str
    pid: int
    started_at: datetime
    started_by: str
    stopped_at: datetime | None = None
    stop_reason: str = ""
    requests: int = Field(0, description="Predictions served, as of the last meter reading")
    errors: int = 0
    metered_at: datetime | None = Field(None, description="Uptime and traffic are charged up to here")

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def ref(self) -> str:
        return f"{self.name}/v{self.version}@{self.zone}"


class DeploymentRepo(Protocol):
    """Where deployments live (`unit.deployments`)."""

    def add(self, deployment: Deployment) -> None: ...
    def get(self, deployment_id: str) -> Deployment | None: ...
    def update(self, deployment_id: str, **values: Any) -> None: ...
    def list(
        self, *, name: str | None = None, zone: str | None = None, active: bool | None = None
    ) -> list[Deployment]: ...
