"""The hash-chained audit log in SQL; appends serialise on the one-row chain head."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, insert, select, update

from leanops.adapters.sql.tables import audit_head, audit_log
from leanops.audit import GENESIS, AuditEntry, AuditFilter, AuditRecord, ChainHead, chain

SCAN_BATCH = 5000


class SqlAuditRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head(self, *, lock: bool = False) -> ChainHead:
        query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        if lock and self.conn.dialect.name != "sqlite":  # SQLite writers are already serialised
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return ChainHead(seq=row.seq, hash=row.hash) if row else ChainHead(seq=0, hash=GENESIS)

    def append(self, entry: AuditEntry, key: bytes) -> AuditRecord:
        record = chain(entry, self.head(lock=True), key)
        self.conn.execute(insert(audit_log).values(**record.model_dump()))
        moved = self.conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=record.seq, hash=record.hash)
        ).rowcount
        if not moved:  # the head row was deleted; the checkpoints outside will tell
            self.conn.execute(insert(audit_head).values(id=1, seq=record.seq, hash=record.hash))
        return record

    def hash_at(self, seq: int) -> str | None:
        return self.conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar_one_or_none()

    def scan(self, after_seq: int = 0) -> Iterator[AuditRecord]:
        """Every record in seq order, read in batches so a long log never sits in memory whole."""
        last = after_seq
        while True:
            rows = (
                self.conn.execute(
                    select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(SCAN_BATCH)
                )
                .mappings()
                .all()
            )
            if not rows:
                return
            for row in rows:
                yield AuditRecord(**row)
            last = rows[-1]["seq"]

    def query(self, flt: AuditFilter) -> list[AuditRecord]:
        q = select(audit_log)
        c = audit_log.c
        for column, value in (
            (c.actor, flt.actor),
            (c.action, flt.action),
            (c.resource, flt.resource),
            (c.decision, flt.decision),
        ):
            if value:
                q = q.where(column.like(value.replace("*", "%")) if "*" in value else column == value)
        if flt.since:
            q = q.where(c.at >= flt.since)
        if flt.until:
            q = q.where(c.at < flt.until)
        q = q.order_by(c.seq.desc())
        if flt.limit:
            q = q.limit(flt.limit)
        rows = self.conn.execute(q).mappings().all()
        return [AuditRecord(**r) for r in reversed(rows)]

    def tail(self, n: int) -> list[AuditRecord]:
        return self.query(AuditFilter(limit=n))
