"""The model registry in SQL: versions, evidence, approvals, aliases and alias history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from leanops.adapters.sql.tables import (
    model_alias_history,
    model_aliases,
    model_approvals,
    model_evidence,
    model_versions,
)
from leanops.registry.models import (
    Alias,
    AliasMove,
    Approval,
    Evidence,
    Lineage,
    Manifest,
    ModelVersion,
    Requirement,
)
from leanops.zones import Zone


class SqlModelRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- versions -------------------------------------------------------------------------

    def max_version(self, name: str) -> int:
        q = select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
        return int(self.conn.execute(q).scalar() or 0)

    def add_version(self, v: ModelVersion) -> None:
        self.conn.execute(
            insert(model_versions).values(
                name=v.name,
                version=v.version,
                run_id=v.run_id,
                owner=v.owner,
                description=v.description,
                flavor=v.manifest.flavor,
                manifest=v.manifest.model_dump(mode="json"),
                lineage=v.lineage.model_dump(mode="json"),
                created_at=v.created_at,
                created_by=v.created_by,
            )
        )

    def get_version(self, name: str, version: int) -> ModelVersion | None:
        q = select(model_versions).where(model_versions.c.name == name, model_versions.c.version == version)
        row = self.conn.execute(q).mappings().first()
        return _version(row) if row else None

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        q = select(model_versions)
        if name is not None:
            q = q.where(model_versions.c.name == name)
        q = q.order_by(model_versions.c.name, model_versions.c.version)
        return [_version(r) for r in self.conn.execute(q).mappings()]

    # -- evidence and approvals -----------------------------------------------------------

    def add_evidence(self, e: Evidence) -> None:
        self.conn.execute(
            insert(model_evidence).values(
                id=e.id,
                name=e.name,
                version=e.version,
                zone=str(e.zone),
                passed=e.passed,
                rules_file=e.rules_file,
                rules_digest=e.rules_digest,
                rules_commit=e.rules_commit,
                requirement=e.requirement.model_dump(mode="json"),
                items=[i.model_dump(mode="json") for i in e.items],
                created_at=e.created_at,
                created_by=e.created_by,
            )
        )

    def get_evidence(self, evidence_id: str) -> Evidence | None:
        row = self.conn.execute(select(model_evidence).where(model_evidence.c.id == evidence_id)).mappings().first()
        return _evidence(row) if row else None

    def latest_evidence(self, name: str, version: int, zone: Zone) -> Evidence | None:
        q = (
            select(model_evidence)
            .where(
                model_evidence.c.name == name, model_evidence.c.version == version, model_evidence.c.zone == str(zone)
            )
            .order_by(model_evidence.c.seq.desc())
            .limit(1)
        )
        row = self.conn.execute(q).mappings().first()
        return _evidence(row) if row else None

    def evidence_for(self, name: str, version: int) -> list[Evidence]:
        q = (
            select(model_evidence)
            .where(model_evidence.c.name == name, model_evidence.c.version == version)
            .order_by(model_evidence.c.seq)
        )
        return [_evidence(r) for r in self.conn.execute(q).mappings()]

    def add_approval(self, a: Approval) -> None:
        self.conn.execute(insert(model_approvals).values(**a.model_dump(mode="python") | {"zone": str(a.zone)}))

    def approvals(self, name: str, version: int | None = None, zone: Zone | None = None) -> list[Approval]:
        q = select(model_approvals).where(model_approvals.c.name == name)
        if version is not None:
            q = q.where(model_approvals.c.version == version)
        if zone is not None:
            q = q.where(model_approvals.c.zone == str(zone))
        rows = self.conn.execute(q.order_by(model_approvals.c.seq)).mappings()
        return [Approval(**{k: v for k, v in r.items() if k != "seq"}) for r in rows]

    # -- aliases --------------------------------------------------------------------------

    def get_alias(self, name: str, zone: Zone, *, lock: bool = False) -> Alias | None:
        """The zone's alias; with `lock`, held until commit, so concurrent moves queue behind it."""
        if lock and self.conn.dialect.name == "postgresql":  # SQLite writers are serialised already
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"alias:{name}:{zone}"})
        q = select(model_aliases).where(model_aliases.c.name == name, model_aliases.c.zone == str(zone))
        row = self.conn.execute(q).mappings().first()
        return Alias(**row) if row else None

    def aliases(self, name: str | None = None) -> list[Alias]:
        q = select(model_aliases)
        if name is not None:
            q = q.where(model_aliases.c.name == name)
        rows = self.conn.execute(q.order_by(model_aliases.c.name, model_aliases.c.zone)).mappings()
        return [Alias(**r) for r in rows]

    def set_alias(self, alias: Alias) -> None:
        values = {"version": alias.version, "updated_at": alias.updated_at, "updated_by": alias.updated_by}
        done = self.conn.execute(
            update(model_aliases)
            .where(model_aliases.c.name == alias.name, model_aliases.c.zone == str(alias.zone))
            .values(**values)
        )
        if not done.rowcount:
            self.conn.execute(insert(model_aliases).values(name=alias.name, zone=str(alias.zone), **values))

    def add_move(self, move: AliasMove) -> None:
        values = move.model_dump(mode="python", exclude={"id"}) | {"zone": str(move.zone)}
        self.conn.execute(insert(model_alias_history).values(**values))

    def moves(self, name: str, zone: Zone | None = None) -> list[AliasMove]:
        q = select(model_alias_history).where(model_alias_history.c.name == name)
        if zone is not None:
            q = q.where(model_alias_history.c.zone == str(zone))
        rows = self.conn.execute(q.order_by(model_alias_history.c.seq)).mappings()
        return [AliasMove(id=r["seq"], **{k: v for k, v in r.items() if k != "seq"}) for r in rows]


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=row["version"],
        run_id=row["run_id"],
        owner=row["owner"],
        description=row["description"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        manifest=Manifest.model_validate(row["manifest"]),
        lineage=Lineage.model_validate(row["lineage"]),
    )


def _evidence(row: Any) -> Evidence:
    return Evidence(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        zone=row["zone"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        rules_file=row["rules_file"],
        rules_digest=row["rules_digest"],
        rules_commit=row["rules_commit"],
        requirement=Requirement.model_validate(row["requirement"]),
        items=row["items"],
    )
