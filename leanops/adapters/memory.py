"""In-memory implementations of the ports, shipped so tests need no disk, server or sleep.

Each one keeps the full contract of its real counterpart (errors, verification), so a test
that passes here exercises the same rules the production adapters enforce.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leanops.adapters.artifacts import (
    CHUNK_SIZE,
    blob_corrupt,
    blob_not_found,
    check_digest,
    open_source,
    write_file_atomically,
)


class FixedClock:
    """A Clock that moves only when told to, so deadlines, expiries and budgets are testable."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start or datetime(2025, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware(when)

    def advance(self, **delta: float) -> datetime:
        """Move on by a timedelta's keywords and return the new time: ``clock.advance(hours=2)``."""
        self._now += timedelta(**delta)
        return self._now


def _aware(when: datetime) -> datetime:
    # Naive and aware datetimes do not compare, so a naive one would break callers much later.
    if when.tzinfo is None:
        raise ValueError(f"FixedClock needs a timezone-aware datetime, got {when!r}")
    return when


class MemoryArtifactStore:
    """Blobs in a dict, verified on every read like the real stores."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._blobs: dict[str, bytes] = {}
        self._written: dict[str, datetime] = {}

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self._blobs.get(digest) != data:
            self._blobs[digest] = bytes(data)
        self._written[digest] = datetime.now(UTC)
        return digest

    def put_file(self, path: Path) -> str:
        with open_source(path) as source:
            return self.put_bytes(b"".join(iter(lambda: source.read(CHUNK_SIZE), b"")))

    def get_bytes(self, digest: str) -> bytes:
        data = self._blob(digest)
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise blob_corrupt(digest, self.url, f"its bytes hash to {actual}")
        return data

    def get_file(self, digest: str, dest: Path) -> Path:
        return write_file_atomically(Path(dest), [self.get_bytes(digest)])

    def exists(self, digest: str) -> bool:
        return check_digest(digest) in self._blobs

    def size(self, digest: str) -> int:
        return len(self._blob(digest))

    def verify(self, digest: str) -> None:
        self.get_bytes(digest)

    def modified_at(self, digest: str) -> datetime:
        self._blob(digest)
        return self._written[digest]

    def delete(self, digest: str) -> None:
        self._blob(digest)
        del self._blobs[digest]
        self._written.pop(digest, None)

    def digests(self) -> Iterator[str]:
        return iter(sorted(self._blobs))

    def sweep_temp(self, older_than_seconds: float = 24 * 3600) -> int:
        """Nothing is ever half-written in memory; kept so callers need not know the backend."""
        return 0

    def _corrupt(self, digest: str, data: bytes) -> None:
        """Replace a blob's bytes behind the store's back, to test verification."""
        self._blobs[check_digest(digest)] = data

    def _blob(self, digest: str) -> bytes:
        try:
            return self._blobs[check_digest(digest)]
        except KeyError:
            raise blob_not_found(digest, self.url) from None


class RecordingNotifier:
    """A Notifier that keeps every notice, so tests can assert who was alerted about what, and how often."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, subject: str, body: str, *, severity: str = "info", **fields: Any) -> None:
        self.sent.append({"subject": subject, "body": body, "severity": severity, **fields})

    def subjects(self) -> list[str]:
        return [n["subject"] for n in self.sent]


class MemoryAnchor:
    """Audit checkpoints kept in a list, for tests."""

    location = "memory"

    def __init__(self) -> None:
        self.checkpoints: list[Any] = []

    def write(self, checkpoint: Any) -> None:
        self.checkpoints.append(checkpoint)

    def read(self) -> list[Any]:
        return list(self.checkpoints)
