"""Artifact references in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select

from leanops.adapters.sql.tables import artifact_refs
from leanops.artifacts import ArtifactRef


class SqlRefRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, ref: ArtifactRef) -> None:
        self.conn.execute(insert(artifact_refs).values(**ref.model_dump()))

    def for_owner(self, owner_kind: str, owner_id: str) -> list[ArtifactRef]:
        q = select(artifact_refs).where(artifact_refs.c.owner_kind == owner_kind, artifact_refs.c.owner_id == owner_id)
        return [_ref(r) for r in self.conn.execute(q.order_by(artifact_refs.c.name)).mappings()]

    def all(self) -> list[ArtifactRef]:
        return [_ref(r) for r in self.conn.execute(select(artifact_refs).order_by(artifact_refs.c.id)).mappings()]

    def digests(self) -> set[str]:
        return set(self.conn.execute(select(artifact_refs.c.digest).distinct()).scalars())

    def expired(self, now: datetime) -> list[ArtifactRef]:
        q = select(artifact_refs).where(artifact_refs.c.expires_at <= now).order_by(artifact_refs.c.id)
        return [_ref(r) for r in self.conn.execute(q).mappings()]

    def live_digests(self, now: datetime) -> set[str]:
        """Digests some unexpired reference still needs."""
        live = or_(artifact_refs.c.expires_at.is_(None), artifact_refs.c.expires_at > now)
        return set(self.conn.execute(select(artifact_refs.c.digest).where(live).distinct()).scalars())

    def remove_expired(self, now: datetime) -> int:
        return self.conn.execute(delete(artifact_refs).where(artifact_refs.c.expires_at <= now)).rowcount


def _ref(row: object) -> ArtifactRef:
    return ArtifactRef(**{k: v for k, v in dict(row).items() if k != "id"})  # type: ignore[call-overload]
