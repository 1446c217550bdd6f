"""The hash-chained audit log: appends, and detection of every kind of tampering, on both backends."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from leanops.adapters.sql.store import SqlStore
from leanops.adapters.sql.tables import audit_head, audit_log
from leanops.audit import AuditEntry, AuditFilter, redact, verify_chain

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


@pytest.fixture
def store(store_url: str):  # noqa: ANN201
    s = SqlStore(store_url)
    s.upgrade()
    with s.transaction() as unit:
        for i in range(6):
            unit.audit.append(
                AuditEntry(
                    at=T0 + timedelta(minutes=i),
                    actor="alice" if i % 2 else "bob",
                    action="dataset.read",
                    resource=f"Dataset:d{i}",
                    zone="sandbox",
                    decision="allow",
                    policy_ids=["viewers-read"],
                    request_id=f"r{i}",
                    details={"i": i},
                ),
                KEY,
            )
    yield s
    s.close()


def verify(store: SqlStore):  # noqa: ANN201
    with store.transaction() as unit:
        return verify_chain(unit.audit.scan(), unit.audit.head(), KEY)


def test_intact_chain_verifies(store: SqlStore) -> None:
    report = verify(store)
    assert report.ok and report.checked == 6


def test_edited_record_is_named(store: SqlStore) -> None:
    with store.transaction() as unit:
        unit.conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory"))
    report = verify(store)
    assert not report.ok and report.first_bad_seq == 3 and "edited" in report.reason


def test_edited_details_are_caught(store: SqlStore) -> None:
    with store.transaction() as unit:
        unit.conn.execute(update(audit_log).where(audit_log.c.seq == 5).values(details={"i": 99}))
    assert verify(store).first_bad_seq == 5


def test_deleted_record_is_named(store: SqlStore) -> None:
    with store.transaction() as unit:
        unit.conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    report = verify(store)
    assert not report.ok and report.first_bad_seq == 3 and "deleted" in report.reason


def test_deleted_tail_is_caught_by_the_head(store: SqlStore) -> None:
    with store.transaction() as unit:
        unit.conn.execute(delete(audit_log).where(audit_log.c.seq == 6))
    report = verify(store)
    assert not report.ok and report.first_bad_seq == 6 and "removed from the end" in report.reason


def test_reordered_records_are_caught(store: SqlStore) -> None:
    with store.transaction() as unit:
        rows = {r.seq: r for r in unit.audit.scan()}
        # Swap the contents of 2 and 4 keeping their seqs: each now sits in the wrong place.
        for seq, other in ((2, 4), (4, 2)):
            src = rows[other]
            unit.conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == seq)
                .values(
                    actor=src.actor,
                    resource=src.resource,
                    at=src.at,
                    request_id=src.request_id,
                    details=src.details,
                    prev_hash=src.prev_hash,
                    hash=src.hash,
                )
            )
    report = verify(store)
    assert not report.ok and report.first_bad_seq == 2


def test_inserted_record_is_caught(store: SqlStore) -> None:
    with store.transaction() as unit:
        rec = next(r for r in unit.audit.scan() if r.seq == 6)
        forged = rec.model_dump() | {"seq": 7, "actor": "mallory"}
        unit.conn.execute(audit_log.insert().values(**forged))
        unit.conn.execute(update(audit_head).values(seq=7, hash=rec.hash))
    report = verify(store)
    assert not report.ok and report.first_bad_seq == 7


def test_query_filters(store: SqlStore) -> None:
    with store.transaction() as unit:
        assert [r.seq for r in unit.audit.query(AuditFilter(actor="alice"))] == [2, 4, 6]
        assert [r.seq for r in unit.audit.query(AuditFilter(since=T0 + timedelta(minutes=4)))] == [5, 6]
        assert [r.seq for r in unit.audit.query(AuditFilter(resource="Dataset:d*", limit=2))] == [5, 6]
        assert [r.seq for r in unit.audit.tail(2)] == [5, 6]


def test_appends_continue_the_chain_across_transactions(store: SqlStore) -> None:
    with store.transaction() as unit:
        rec = unit.audit.append(
            AuditEntry(
                at=T0,
                actor="x",
                action="audit.read",
                resource="Project:audit",
                zone="sandbox",
                decision="deny",
                request_id="r",
            ),
            KEY,
        )
    assert rec.seq == 7
    assert verify(store).ok


def test_redact_masks_secret_keys_recursively() -> None:
    clean = redact({"token": "lo_x", "nested": {"DB_PASSWORD": "p", "ok": 1}, "list": [{"api_key": "k"}]})
    assert clean == {"token": "***", "nested": {"DB_PASSWORD": "***", "ok": 1}, "list": [{"api_key": "***"}]}
    assert "lo_x" not in json.dumps(clean)


def test_export_is_json_lines(store: SqlStore) -> None:
    out = io.StringIO()
    with store.transaction() as unit:
        for rec in unit.audit.scan():
            out.write(rec.model_dump_json() + "\n")
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["seq"] == 1
