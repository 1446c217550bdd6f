"""Dataset snapshots in SQL: a content row per hash, a version row per `name@vN`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.exc import IntegrityError

from leanops.adapters.sql.tables import dataset_snapshots as contents
from leanops.adapters.sql.tables import dataset_versions as versions
from leanops.datasets.snapshot import Snapshot
from leanops.errors import Conflict

_CONTENT = [contents.c.kind, contents.c.format, contents.c.size, contents.c.rows, contents.c.data_class]
_VERSION = [
    versions.c.snapshot_id.label("id"),
    versions.c.name,
    versions.c.version,
    versions.c.source,
    versions.c.created_at,
    versions.c.created_by,
    versions.c.zone,
]


class SqlDatasetRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, snapshot: Snapshot, *, new_content: bool) -> None:
        data = snapshot.model_dump(mode="json")
        try:
            if new_content:
                self.conn.execute(
                    insert(contents).values(
                        id=snapshot.id,
                        kind=snapshot.kind,
                        format=snapshot.format,
                        size=snapshot.size,
                        rows=snapshot.rows,
                        files=data["files"],
                        profile=data["profile"],
                        data_class=str(snapshot.data_class),
                        created_at=snapshot.created_at,
                        created_by=snapshot.created_by,
                        zone=snapshot.zone,
                    )
                )
            self.conn.execute(
                insert(versions).values(
                    name=snapshot.name,
                    version=snapshot.version,
                    snapshot_id=snapshot.id,
                    source=snapshot.source,
                    contract=data["contract"],
                    created_at=snapshot.created_at,
                    created_by=snapshot.created_by,
                    zone=snapshot.zone,
                )
            )
        except IntegrityError:
            raise Conflict(
                f"{snapshot.ref} was registered by someone else at the same moment.",
                hint="Register again: the next free version will be used.",
            ) from None

    def get(self, name: str, version: int | None = None) -> Snapshot | None:
        q = self._full().where(versions.c.name == name)
        q = q.where(versions.c.version == version) if version is not None else q.order_by(versions.c.version.desc())
        row = self.conn.execute(q.limit(1)).mappings().first()
        return _snapshot(row) if row else None

    def for_content(self, snapshot_id: str) -> list[Snapshot]:
        q = self._full().where(versions.c.snapshot_id == snapshot_id).order_by(versions.c.created_at, versions.c.id)
        return [_snapshot(r) for r in self.conn.execute(q).mappings()]

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        q = select(contents.c.id).where(contents.c.id.startswith(prefix, autoescape=True)).order_by(contents.c.id)
        return list(self.conn.execute(q.limit(limit)).scalars())

    def list(self, name: str | None = None) -> list[Snapshot]:
        q = select(*_VERSION, *_CONTENT).join(contents, contents.c.id == versions.c.snapshot_id)
        if name is not None:
            q = q.where(versions.c.name == name)
        q = q.order_by(versions.c.name, versions.c.version)
        return [_snapshot(r) for r in self.conn.execute(q).mappings()]

    @staticmethod
    def _full() -> Select[Any]:
        return select(*_VERSION, versions.c.contract, *_CONTENT, contents.c.files, contents.c.profile).join(
            contents, contents.c.id == versions.c.snapshot_id
        )


def _snapshot(row: Any) -> Snapshot:
    return Snapshot.model_validate(dict(row))
