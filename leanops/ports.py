"""The narrow interfaces the domain needs from the outside world.

Noun modules depend on these Protocols only; `workspace.py` alone decides which adapter
implements each one. Every port has an in-memory implementation in `adapters/memory.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from leanops.alerts import AlertRepo
    from leanops.artifacts import RefRepo
    from leanops.audit import AuditRepo
    from leanops.cost.budgets import CostRepo
    from leanops.datasets.service import DatasetRepo
    from leanops.identity import IdentityRepo
    from leanops.jobs.models import ExitInfo, JobRepo, Launch
    from leanops.policy import ExceptionRepo, PolicyApprovalRepo
    from leanops.registry.models import ModelRepo
    from leanops.runs.models import RunRepo
    from leanops.serving.models import DeploymentRepo


@runtime_checkable
class Clock(Protocol):
    """Where time comes from, so deadlines, expiries and budgets can be tested."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed blobs: the key of a blob is the sha256 of its bytes.

    A blob becomes visible only once its hash is verified, so a reader never sees a partial
    write; every read verifies the hash again and raises `IntegrityError` on a mismatch.
    """

    url: str

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its sha256 hex digest. Storing the same bytes twice is a no-op."""
        ...

    def put_file(self, path: Path) -> str:
        """Stream a file into the store without loading it whole; return its digest."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """The verified bytes of a blob (`NotFound`, `IntegrityError`)."""
        ...

    def get_file(self, digest: str, dest: Path) -> Path:
        """Copy a blob to `dest` (atomically), verifying it on the way."""
        ...

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int: ...

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob; raise `IntegrityError` if its bytes changed."""
        ...

    def modified_at(self, digest: str) -> datetime:
        """When the blob was last written or reused (`NotFound` if absent)."""
        ...

    def delete(self, digest: str) -> None: ...

    def digests(self) -> Iterator[str]:
        """Every stored digest (for fsck and garbage collection)."""
        ...


class Unit(Protocol):
    """One transaction against the metadata store; repositories hang off it by noun.

    Each repository's Protocol lives with its noun (`RunRepo` in `leanops.runs.models`, …).
    """

    @property
    def identity(self) -> IdentityRepo: ...
    @property
    def audit(self) -> AuditRepo: ...
    @property
    def exceptions(self) -> ExceptionRepo: ...
    @property
    def policies(self) -> PolicyApprovalRepo: ...
    @property
    def refs(self) -> RefRepo: ...
    @property
    def datasets(self) -> DatasetRepo: ...
    @property
    def models(self) -> ModelRepo: ...
    @property
    def runs(self) -> RunRepo: ...
    @property
    def jobs(self) -> JobRepo: ...
    @property
    def cost(self) -> CostRepo: ...
    @property
    def deployments(self) -> DeploymentRepo: ...
    @property
    def alerts(self) -> AlertRepo: ...

    def lock(self, key: str) -> None:
        """Serialise this transaction with every other one taking the same key, until it ends."""
        ...

    def flush(self) -> None: ...


@runtime_checkable
class MetadataStore(Protocol):
    """Durable records (projects, users, audit, runs, models, …) behind one transactional door."""

    url: str

    def transaction(self) -> AbstractContextManager[Unit]:
        """A unit of work: everything inside commits together or not at all."""
        ...

    def upgrade(self) -> str:
        """Apply pending schema migrations; return the resulting revision."""
        ...

    def revision(self) -> str | None: ...

    def close(self) -> None: ...


@runtime_checkable
class Notifier(Protocol):
    """Where alerts and notices go: log, webhook, Slack-compatible webhook."""

    def send(self, subject: str, body: str, *, severity: str = "info", **fields: Any) -> None: ...


class ExecutionHandle(Protocol):
    """One attempt running on an executor."""

    def poll(self) -> ExitInfo | None:
        """How it ended, or None while it runs; never blocks."""
        ...

    def wait(self, timeout: float) -> ExitInfo | None:
        """Block up to `timeout` seconds for the end."""
        ...

    def terminate(self, grace: float) -> ExitInfo:
        """SIGTERM to the attempt's whole process group, `grace` seconds, then SIGKILL."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Where job attempts run: local processes or a Ray cluster, with the same semantics.

    An attempt runs in its own process group; when it ends, whatever it left running is
    killed. The `ExitInfo` carries the exit status and the metering (wall, CPU, peak memory).
    """

    name: str

    def submit(self, launch: Launch) -> ExecutionHandle: ...
