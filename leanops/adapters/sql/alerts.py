"""Alerts in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from leanops.adapters.sql.tables import alerts
from leanops.alerts import Alert, State


class SqlAlertRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def save(self, alert: Alert) -> None:
        """Insert a new alert or write the new state of a known one."""
        row = alert.model_dump(mode="python")
        if self.conn.execute(select(alerts.c.id).where(alerts.c.id == alert.id)).first():
            self.conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**row))
        else:
            self.conn.execute(insert(alerts).values(**row))

    def get(self, alert_id: str) -> Alert | None:
        row = self.conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return Alert(**dict(row)) if row else None

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        q = select(alerts.c.id).where(alerts.c.id.startswith(prefix, autoescape=True)).limit(limit)
        return list(self.conn.execute(q).scalars())

    def list(
        self, *, model: str | None = None, zone: str | None = None, active: bool | None = None, limit: int = 200
    ) -> list[Alert]:
        q = select(alerts).order_by(alerts.c.since.desc(), alerts.c.id).limit(limit)
        if model is not None:
            q = q.where(alerts.c.model == model)
        if zone is not None:
            q = q.where(alerts.c.zone == zone)
        if active is not None:
            resolved = alerts.c.state == str(State.RESOLVED)
            q = q.where(~resolved if active else resolved)
        return [Alert(**dict(r)) for r in self.conn.execute(q).mappings()]

    def update(self, alert_id: str, **values: Any) -> None:
        self.conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
