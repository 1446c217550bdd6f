"""The tamper-evident audit log: every read and write, chained with a key the store never sees.

Each record carries the MAC of the one before it, and its own MAC (HMAC-SHA256) covers its
sequence number, so an edited, deleted, inserted or reordered record breaks the chain at
exactly the first place it was touched. Someone with write access to the database but not the
key cannot re-chain it after an edit. Signed checkpoints (seq, head MAC, time) are written
outside the database, as CloudTrail writes digest files, so truncating the tail, rewinding
the head or wiping the log is caught as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field, field_validator

if TYPE_CHECKING:
    from leanops.ports import Unit

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
    policy_bundle: str = Field("", description="Hash of the policy bundle that decided")

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """One time zone for the MAC, whatever clock wrote it and whatever the store returns."""
        if value.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        return value.astimezone(UTC)


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


class Checkpoint(BaseModel):
    """A signed statement, kept outside the database, that the log reached `seq` with `head_hash`."""

    seq: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str = ""


class AuditRepo(Protocol):
    def append(self, entry: AuditEntry, key: bytes) -> AuditRecord: ...
    def head(self) -> ChainHead: ...
    def hash_at(self, seq: int) -> str | None: ...
    def scan(self, after_seq: int = 0) -> Iterable[AuditRecord]: ...
    def query(self, flt: AuditFilter) -> list[AuditRecord]: ...
    def tail(self, n: int) -> list[AuditRecord]: ...


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def key_id(key: bytes) -> str:
    """A public fingerprint of the key, so a checkpoint says which key signed it."""
    return hashlib.sha256(b"leanops-audit-key-id:" + key).hexdigest()[:16]


def _mac(key: bytes, payload: Any) -> str:
    return hmac.new(key, canonical(payload).encode(), hashlib.sha256).hexdigest()


def record_hash(entry: AuditEntry, seq: int, prev_hash: str, key: bytes) -> str:
    """HMAC over the record's content, its place in the chain and its predecessor's MAC."""
    body = entry.model_dump(mode="json", include=set(AuditEntry.model_fields))
    body["at"] = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    return _mac(key, {"seq": seq, "prev": prev_hash, "body": body})


def chain(entry: AuditEntry, head: ChainHead, key: bytes) -> AuditRecord:
    """The record that follows `head`."""
    seq = head.seq + 1
    return AuditRecord(**entry.model_dump(), seq=seq, prev_hash=head.hash, hash=record_hash(entry, seq, head.hash, key))


def sign_checkpoint(head: ChainHead, at: datetime, key: bytes) -> Checkpoint:
    cp = Checkpoint(seq=head.seq, head_hash=head.hash, at=at.astimezone(UTC), key_id=key_id(key))
    return cp.model_copy(update={"signature": _mac(key, cp.model_dump(mode="json", exclude={"signature"}))})


def checkpoint_valid(cp: Checkpoint, key: bytes) -> bool:
    expected = _mac(key, cp.model_dump(mode="json", exclude={"signature"}))
    return hmac.compare_digest(expected, cp.signature)


class AuditAnchor(Protocol):
    """Where signed checkpoints live, outside the metadata store (a folder, later a bucket)."""

    location: str

    def write(self, checkpoint: Checkpoint) -> None: ...

    def read(self) -> list[Checkpoint | str]:
        """Every checkpoint written, oldest first; an unreadable entry comes back as its text."""
        ...


class Checkpointer:
    """Writes a checkpoint after commits, at most every `interval` seconds per process.

    A checkpoint is only ever taken of a committed head, read after the commit, so a
    concurrent writer can only make it older (a weaker anchor), never wrong.
    """

    def __init__(self, anchor: AuditAnchor, key: bytes, clock: Any, interval: float = 0.0) -> None:
        self.anchor, self.key, self.clock, self.interval = anchor, key, clock, interval
        self._last_at: datetime | None = None
        self._last_seq = -1

    def after_commit(self, read_head: Callable[[], ChainHead]) -> None:
        now = self.clock.now()
        if self._last_at is not None and (now - self._last_at).total_seconds() < self.interval:
            return
        self.checkpoint(read_head)

    def checkpoint(self, read_head: Callable[[], ChainHead]) -> Checkpoint | None:
        head = read_head()
        if head.seq == self._last_seq:
            return None
        cp = sign_checkpoint(head, self.clock.now(), self.key)
        self.anchor.write(cp)
        self._last_at, self._last_seq = self.clock.now(), head.seq
        return cp


def verify_anchor(
    checkpoints: list[Checkpoint | str], key: bytes, head: ChainHead, hash_at: Callable[[int], str | None]
) -> VerifyReport | None:
    """What the checkpoints outside the database say about it; None when they agree."""
    for cp in checkpoints:
        if isinstance(cp, str) or not checkpoint_valid(cp, key):
            seq = None if isinstance(cp, str) else cp.seq
            return VerifyReport(
                ok=False, checked=0, first_bad_seq=seq, reason="a checkpoint outside the database is forged or damaged"
            )
    valid = [cp for cp in checkpoints if isinstance(cp, Checkpoint)]
    if not valid:
        if head.seq > 0:
            return VerifyReport(
                ok=False,
                checked=0,
                first_bad_seq=1,
                reason="no checkpoint exists for a non-empty log: the checkpoints were deleted",
            )
        return None
    newest = max(valid, key=lambda cp: cp.seq)
    if head.seq < newest.seq:
        what = "the log was wiped" if head.seq == 0 else "records were removed from the end and the head rewound"
        return VerifyReport(
            ok=False,
            checked=0,
            first_bad_seq=head.seq + 1,
            reason=f"a checkpoint signed at {newest.at:%Y-%m-%d %H:%M:%S} UTC saw seq {newest.seq}, the log ends at "
            f"{head.seq}: {what}",
        )
    for cp in sorted(valid, key=lambda c: c.seq):
        if cp.seq and hash_at(cp.seq) != cp.head_hash:
            return VerifyReport(
                ok=False,
                checked=0,
                first_bad_seq=cp.seq,
                reason=f"record {cp.seq} differs from the one a signed checkpoint saw: the log was rewritten",
            )
    return None


def verify_chain(records: Iterable[AuditRecord], head: ChainHead, key: bytes) -> VerifyReport:
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
        if not hmac.compare_digest(record_hash(rec, rec.seq, rec.prev_hash, key), rec.hash):
            return VerifyReport(
                ok=False,
                checked=checked,
                first_bad_seq=rec.seq,
                reason="its content does not match its MAC (the record was edited, or re-chained without the key)",
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


def verify_log(unit: Unit, key: bytes, anchor: AuditAnchor) -> VerifyReport:
    """The chain inside the database, then the checkpoints outside it."""
    head = unit.audit.head()
    report = verify_chain(unit.audit.scan(), head, key)
    if not report.ok:
        return report
    found = verify_anchor(anchor.read(), key, head, unit.audit.hash_at)
    return found.model_copy(update={"checked": report.checked}) if found else report


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
        self._guard = guard

    def _resource(self) -> Any:
        from leanops.policy import Resource

        return Resource(type="Project", id="audit")

    def tail(self, n: int = 20) -> list[AuditRecord]:
        with self._guard.act("audit.read", self._resource(), details={"op": "tail", "n": n}) as unit:
            return unit.audit.tail(n)

    def query(self, flt: AuditFilter) -> list[AuditRecord]:
        with self._guard.act(
            "audit.read", self._resource(), details={"op": "query", **flt.model_dump(mode="json", exclude_none=True)}
        ) as unit:
            return unit.audit.query(flt)

    def verify(self) -> VerifyReport:
        """Walk the keyed chain and hold it against the signed checkpoints; anchor it anew if sound."""
        checkpointer = self._guard.checkpointer
        with self._guard.act("audit.read", self._resource(), details={"op": "verify"}) as unit:
            report = verify_log(unit, checkpointer.key, checkpointer.anchor)
        if report.ok:
            self.checkpoint()
        return report

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head into the anchor outside the database."""
        return self._guard.checkpoint(force=True)

    def export(self, out: Any, flt: AuditFilter | None = None) -> int:
        """Write records as JSON Lines to a text stream; returns how many."""
        count = 0
        with self._guard.act("audit.export", self._resource(), details={"op": "export"}) as unit:
            records = unit.audit.query(flt) if flt else unit.audit.scan()
            for rec in records:
                out.write(rec.model_dump_json() + "\n")
                count += 1
        return count
