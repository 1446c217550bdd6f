"""Deployments in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from leanops.adapters.sql.tables import deployments
from leanops.serving.models import Deployment


class SqlDeploymentRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, deployment: Deployment) -> None:
        self.conn.execute(insert(deployments).values(**deployment.model_dump(mode="python")))

    def get(self, deployment_id: str) -> Deployment | None:
        row = self.conn.execute(select(deployments).where(deployments.c.id == deployment_id)).mappings().first()
        return Deployment(**dict(row)) if row else None

    def update(self, deployment_id: str, **values: Any) -> None:
        self.conn.execute(update(deployments).where(deployments.c.id == deployment_id).values(**values))

    def list(self, *, name: str | None = None, zone: str | None = None, active: bool | None = None) -> list[Deployment]:
        q = select(deployments).order_by(deployments.c.started_at, deployments.c.id)
        if name is not None:
            q = q.where(deployments.c.name == name)
        if zone is not None:
            q = q.where(deployments.c.zone == zone)
        if active is not None:
            q = q.where(deployments.c.stopped_at.is_(None) if active else deployments.c.stopped_at.is_not(None))
        return [Deployment(**dict(r)) for r in self.conn.execute(q).mappings()]
