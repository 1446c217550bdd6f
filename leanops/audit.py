"""The tamper-evident audit log: every read and write, hash-chained.

Each record carries the hash of the one before it, and its own hash covers its sequence
number, so an edited, deleted, inserted or reordered record breaks the chain at exactly
the first place it was touched. The head (last seq and hash) is kept beside the log so
truncating its tail is caught too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

GENESIS = "0" * 64
SECRET_KEYS = ("token", "secret", "password", "passwd", "api_key", "apikey", "credential", "authorization")
REDACTED = "***"


class AuditEntry(BaseModel):
    """What the guard records; the chain fields are added when it is appended."""

    at: datetime
    actor: str
    action: str
    resource: str
    zone: str
    decision: Literal["allow", "deny"]
    policy_ids: list[str] = Field(default_factory=list)
    request_id: str
    details: dict[str, Any] = Field(default_factory=dict)


class AuditRecord(AuditEntry):
    seq: int
    prev_hash: str
    hash: str


class ChainHead(BaseModel):
    seq: int
    hash: str


class AuditFilter(BaseModel):
    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    decision: str | None = None
    limit: int | None = None


class VerifyReport(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


class AuditRepo(Protocol):
    def append(self, entry: AuditEntry) -> AuditRecord: ...
    def head(self) -> ChainHead: ...
    def scan(self, after_seq: int = 0) -> Iterable[AuditRecord]: ...
    def query(self, flt: AuditFilter) -> list[AuditRecord]: ...
    def tail(self, n: int) -> list[AuditRecord]: ...


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def record_hash(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    """sha256 over the record's content, its place in the chain and its predecessor's hash."""
    body = entry.model_dump(mode="json", include=set(AuditEntry.model_fields))
    body["at"] = entry.at.isoformat(timespec="microseconds")
    return hashlib.sha256(canonical({"seq": seq, "prev": prev_hash, "body": body}).encode()).hexdigest()


def chain(entry: AuditEntry, head: ChainHead) -> AuditRecord:
    """The record that follows `head`."""
    seq = head.seq + 1
    return AuditRecord(**entry.model_dump(), seq=seq, prev_hash=head.hash, hash=record_hash(entry, seq, head.hash))


def verify_chain(records: Iterable[AuditRecord], head: ChainHead) -> VerifyReport:
    """Walk the log from the start; name the first record that does not belong where it is."""
    expected_seq, prev, checked = 1, GENESIS, 0
    for rec in records:
        checked += 1
        if rec.seq != expected_seq:
            kind = "missing (deleted) records before it" if rec.seq > expected_seq else "out of order or inserted"
            return VerifyReport(
                ok=False,
                checked=checked,
                first_bad_seq=rec.seq,
                reason=f"expected seq {expected_seq}, found {rec.seq}: {kind}",
            )
        if rec.prev_hash != prev:
            return VerifyReport(
                ok=False,
                checked=checked,
                first_bad_seq=rec.seq,
                reason="its link to the previous record is broken (a record was removed, inserted or reordered)",
            )
        if record_hash(rec, rec.seq, rec.prev_hash) != rec.hash:
            return VerifyReport(
                ok=False,
                checked=checked,
                first_bad_seq=rec.seq,
                reason="its content does not match its hash (the record was edited)",
            )
        prev, expected_seq = rec.hash, expected_seq + 1
    if (head.seq, head.hash) != (expected_seq - 1, prev):
        return VerifyReport(
            ok=False,
            checked=checked,
            first_bad_seq=expected_seq,
            reason=f"the chain ends at seq {expected_seq - 1} but its head says {head.seq}: records were removed from the end",
        )
    return VerifyReport(ok=True, checked=checked)


def redact(details: dict[str, Any]) -> dict[str, Any]:
    """Mask values under secret-looking keys, recursively: secrets never reach the log."""

    def clean(value: Any, key: str = "") -> Any:
        if any(s in key.lower() for s in SECRET_KEYS):
            return REDACTED
        if isinstance(value, dict):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(details)


class AuditService:
    """Reading the log is itself an audited read."""

    def __init__(self, guard: Any) -> None:
        self.guard = guard

    def _resource(self) -> Any:
        from leanops.policy import Resource

        return Resource(type="Project", id="audit")

    def tail(self, n: int = 20) -> list[AuditRecord]:
        with self.guard.act("audit.read", self._resource(), details={"op": "tail", "n": n}) as unit:
            return unit.audit.tail(n)

    def query(self, flt: AuditFilter) -> list[AuditRecord]:
        with self.guard.act(
            "audit.read", self._resource(), details={"op": "query", **flt.model_dump(mode="json", exclude_none=True)}
        ) as unit:
            return unit.audit.query(flt)

    def verify(self) -> VerifyReport:
        with self.guard.act("audit.read", self._resource(), details={"op": "verify"}) as unit:
            return verify_chain(unit.audit.scan(), unit.audit.head())

    def export(self, out: Any, flt: AuditFilter | None = None) -> int:
        """Write records as JSON Lines to a text stream; returns how many."""
        count = 0
        with self.guard.act("audit.export", self._resource(), details={"op": "export"}) as unit:
            records = unit.audit.query(flt) if flt else unit.audit.scan()
            for rec in records:
                out.write(rec.model_dump_json() + "\n")
                count += 1
        return count
