"""The composition root: the one place that decides which adapter implements each port.

    ws = Workspace.from_config()          # reads leanops.yaml, builds SQLite + local folder
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.audit.verify()

Every service hangs off the workspace and receives the same `Guard`, so policy and audit are
wired once, here; services that must hear each other (cost and jobs, cost and the registry)
meet on one `EventBus`, never through a reference to each other.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.artifacts import FsckReport, fsck
from leanops.audit import AuditService, Checkpointer, new_key
from leanops.config import Settings, load_settings
from leanops.errors import ConfigError, Conflict, IntegrityError
from leanops.events import AttemptEnded, CeilingReached, EvaluationDone, EventBus, JobAdmitting
from leanops.governance import Governance
from leanops.guard import Guard
from leanops.identity import (
    Actor,
    Mode,
    Principal,
    PrincipalKind,
    RoleGrant,
    Trust,
    actor_for,
    authenticate,
    resolve_actor,
)
from leanops.policy import PolicyDecision, PolicyEngine, Resource, Role
from leanops.ports import ArtifactStore, Clock, Executor, MetadataStore, Notifier, SystemClock
from leanops.users import UserService
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.cost.service import CostService
    from leanops.datasets import DatasetService
    from leanops.jobs import JobService
    from leanops.monitoring.service import MonitorService
    from leanops.registry import RegistryService
    from leanops.runs import RunService
    from leanops.serving.service import ServingService


class Workspace:
    """One project's services, bound to one actor and one default zone."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: MetadataStore | None = None,
        artifacts: ArtifactStore | None = None,
        policy: PolicyEngine | None = None,
        clock: Clock | None = None,
        user: str | None = None,
        token: str | None = None,
        zone: Zone | str | None = None,
        migrate: bool = True,
        create: bool = False,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._store = store or _build_store(settings, create=create)
        if migrate and getattr(self._store, "needs_upgrade", lambda: False)():
            self._store.upgrade()
        self._artifacts = artifacts
        self._policy = policy
        self.zone = Zone(zone or settings.zone)
        # A name given in code means that name; otherwise the environment's token speaks.
        self._token = token or (None if user else os.environ.get("LEANOPS_TOKEN")) or None
        self._user = user or settings.acting_user
        self.issued_token: str | None = None  # a team store's first admin token, shown once

    @classmethod
    def from_config(cls, path: Path | None = None, **kwargs: Any) -> Workspace:
        """Open the project whose leanops.yaml is at or above `path` (default: the working directory)."""
        return cls(load_settings(path), **kwargs)

    @cached_property
    def actor(self) -> Actor:
        """Who acts: the token's principal; a bare name only for local mode's one local person."""
        with self._store.transaction() as unit:
            return resolve_actor(unit.identity, token=self._token, name=self._user, now=self.clock.now())

    @property
    def mode(self) -> Mode | None:
        """The store's trust mode (None before bootstrap); recorded in the store, not configured."""
        with self._store.transaction() as unit:
            trust = unit.identity.trust()
        return trust.mode if trust else None

    @cached_property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            from leanops.adapters.artifacts import artifact_store_from_url

            options = (
                {"endpoint_url": self.settings.artifacts.endpoint_url} if self.settings.artifacts.endpoint_url else {}
            )
            self._artifacts = artifact_store_from_url(self.settings.artifacts_url, **options)
        return self._artifacts

    @cached_property
    def policy_engine(self) -> PolicyEngine:
        if self._policy is None:
            from leanops.adapters.cedar import CedarPolicyEngine
            from leanops.policy import activated

            with self._store.transaction() as unit:
                approved = activated(unit.policies.approvals())
                known = unit.policies.known_forbids()
            paths = [self.settings.root / p for p in self.settings.policy.paths]
            self._policy = CedarPolicyEngine.load(paths, approved, known)
            if {f.hash for f in self._policy.forbids} - {k.hash for k in known}:
                with self._store.transaction() as unit:
                    unit.lock("policy-forbids")  # two first openers record each forbid once
                    unit.policies.remember_forbids(self._policy.forbids, self.clock.now())
        return self._policy

    @cached_property
    def _guard(self) -> Guard:
        guard = self._guard_for(self.actor)
        guard.note_bundle()
        return guard

    def _guard_for(self, actor: Actor) -> Guard:
        from leanops.cost.naming import naming_check

        return Guard(
            self._store,
            self.policy_engine,
            self.clock,
            actor,
            zone=self.zone,
            escalation=self.settings.policy.escalation,
            checks=[naming_check(self.settings.naming)],
            checkpointer=self._checkpointer,
        )

    @cached_property
    def _checkpointer(self) -> Checkpointer:
        from leanops.adapters.anchor import FolderAnchor

        anchor = FolderAnchor(Path(self.settings.resolve_path(self.settings.audit.anchor)))
        return Checkpointer(anchor, self._audit_key(), self.clock, self.settings.audit.checkpoint_seconds)

    def _audit_key(self) -> bytes:
        """The chain's key: from LEANOPS_AUDIT_KEY, else the key file; made only for an empty log.

        A missing key on a log that has records is refused rather than replaced: a new key
        would let whoever deleted the old one re-chain the log.
        """
        if env := os.environ.get("LEANOPS_AUDIT_KEY"):
            return env.encode()
        path = Path(self.settings.resolve_path(self.settings.audit.key_file)).expanduser()
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            pass
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise IntegrityError(
                f"The audit key at {path} is unreadable or damaged ({exc}).",
                hint="Restore it from your backup, or set LEANOPS_AUDIT_KEY.",
            ) from None
        with self._store.transaction() as unit:
            records = unit.audit.head().seq
        if records:
            raise IntegrityError(
                f"The audit key is missing at {path}, and the log already holds {records} records.",
                hint="Restore the key file from your backup (or set LEANOPS_AUDIT_KEY); a new key is made only "
                "for an empty log.",
            )
        key = new_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key.hex() + "\n")
        return key

    @cached_property
    def users(self) -> UserService:
        return UserService(self._guard)

    @cached_property
    def audit(self) -> AuditService:
        return AuditService(self._guard)

    @cached_property
    def governance(self) -> Governance:
        return Governance(self._guard)

    @cached_property
    def datasets(self) -> DatasetService:
        from leanops.datasets import DatasetService

        return DatasetService(self._guard, self.artifacts, allowed_sources=self.settings.data.allowed_sources)

    @cached_property
    def _bus(self) -> EventBus:
        """Where services tell each other what happened: see `_spending` for who listens."""
        return EventBus()

    @cached_property
    def models(self) -> RegistryService:
        from leanops.registry import RegistryService

        self._spending  # noqa: B018 - cost listens before the first evaluation is published
        return RegistryService(
            self._guard,
            self.artifacts,
            self.runs,
            lambda: getattr(self, "datasets", None),
            clock=self.clock,
            settings=self.settings,
            bus=self._bus,
        )

    @cached_property
    def runs(self) -> RunService:
        from leanops.runs import RunService

        return RunService(
            self._guard,
            self.artifacts,
            self.settings.runs,
            zone_rules=self.settings.zones,
            datasets=lambda: getattr(self, "datasets", None),
        )

    @cached_property
    def notifier(self) -> Notifier:
        """Where alerts go (`notify.sinks`); monitoring and cost send through it too."""
        from leanops.adapters.notifiers import build_notifier

        return build_notifier(self.settings.notify.sinks, self.settings.root)

    def executor(self, name: str | None = None) -> Executor:
        """The job executor called `name` (default `jobs.executor`), built once per workspace."""
        from leanops.adapters.executors import build_executor

        name = name or self.settings.jobs.executor
        cache = self.__dict__.setdefault("_executors", {})
        if name not in cache:
            cache[name] = build_executor(name, address=self.settings.jobs.ray_address)
        return cache[name]

    @cached_property
    def jobs(self) -> JobService:
        return self._spending[1]

    @cached_property
    def cost(self) -> CostService:
        return self._spending[0]

    @cached_property
    def _spending(self) -> tuple[CostService, JobService]:
        """Cost and jobs, built together so each hears the other from the first event.

        Cost admits and charges what jobs publish and charges evaluations; jobs stop when
        cost reports a spent hard ceiling.
        """
        from leanops.cost.service import CostService
        from leanops.jobs import JobService

        cost = CostService(self._guard, self.notifier, self.settings, bus=self._bus)
        jobs = JobService(
            self._guard,
            self.executor,
            self.notifier,
            self.settings.jobs,
            root=self.settings.root,
            artifacts=self.artifacts,
            runs=lambda: self.runs,
            datasets=lambda: getattr(self, "datasets", None),
            zone_rules=self.settings.zones,
            bus=self._bus,
            stores=self._job_stores(),
        )
        self._bus.subscribe(JobAdmitting, cost.on_job_admitting)
        self._bus.subscribe(AttemptEnded, cost.on_attempt_ended)
        self._bus.subscribe(EvaluationDone, cost.on_evaluation_done)
        self._bus.subscribe(CeilingReached, jobs.on_ceiling_reached)
        return cost, jobs

    def _job_stores(self) -> dict[str, str]:
        """Where a job's process finds the project's stores: the runner's, whatever the job's env says."""
        stores = {"LEANOPS_STORE__URL": self.settings.store_url, "LEANOPS_ARTIFACTS__URL": self.settings.artifacts_url}
        if self.settings.artifacts.endpoint_url:
            stores["LEANOPS_ARTIFACTS__ENDPOINT_URL"] = self.settings.artifacts.endpoint_url
        return stores

    @cached_property
    def serving(self) -> ServingService:
        from leanops.serving.service import ServingService

        return ServingService(self._guard, self.models, self.settings, cost=self.cost, clock=self.clock)

    @cached_property
    def monitoring(self) -> MonitorService:
        from leanops.monitoring.service import MonitorService

        return MonitorService(self._guard, self.models, self.serving, self.notifier, self.settings)

    # -- project-level operations -------------------------------------------------------

    def bootstrap(self, admin: str | None = None, *, mode: Mode | str | None = None) -> bool:
        """Make the first admin and record the store's trust mode; a no-op (False) once done.

        Deny-by-default needs someone to grant the first role; that is whoever initialises. A shared
        engine (anything but a SQLite file) is always a team store; in team mode the admin's first
        token is minted here and kept in `issued_token`, to be shown once.
        """
        name = admin or self._user
        mode = Mode(mode or (Mode.LOCAL if self._is_local_store() else Mode.TEAM))
        if mode is Mode.LOCAL and not self._is_local_store():
            raise ConfigError(
                f"A {self._store_kind()} store is shared by nature; local mode is for a SQLite file only.",
                hint="Initialise it in team mode (the default); everyone then acts with a token.",
            )
        now = self.clock.now()
        trust = Trust(
            mode=mode,
            local_user=name if mode is Mode.LOCAL else None,
            project=self.settings.project,
            created_at=now,
            created_by=name,
        )
        with self._store.transaction() as unit:
            if unit.identity.count_principals() or not unit.identity.add_trust(trust):
                return False
            unit.identity.add_principal(Principal(name=name, kind=PrincipalKind.USER, created_at=now, created_by=name))
            unit.identity.add_grant(RoleGrant(principal=name, role=Role.ADMIN, granted_at=now, granted_by=name))
        actor = actor_for_name(self._store, name)
        self.__dict__["actor"] = actor
        self._guard.actor = actor  # services built before bootstrap share this guard
        with self._guard.act(
            "project.init",
            Resource(type="Project", id=self.settings.project, owner=name),
            details={"bootstrap_admin": name, "mode": str(mode)},
        ):
            pass
        if mode is Mode.TEAM:
            issued = self.users.create_token(name, description="first admin token (bootstrap)")
            self.issued_token = self._token = issued.plaintext
            self.__dict__["actor"] = self._guard.actor = actor_for_token(self._store, issued.plaintext, now)
        return True

    def enable_team_mode(self) -> None:
        """Stop trusting the local name: from now on every caller needs a token. There is no way back."""
        with self._guard.act(
            "project.init", Resource(type="Project", id=self.settings.project), details={"op": "team-mode"}
        ) as unit:
            trust = unit.identity.trust()
            if trust is None:
                raise Conflict("The project is not initialised.", hint="Run `leanops init` first.")
            if trust.mode is Mode.TEAM:
                raise Conflict("The store is in team mode already.")
            unit.identity.set_mode(Mode.TEAM)

    def _is_local_store(self) -> bool:
        return self._store_kind() == "sqlite"

    def _store_kind(self) -> str:
        return getattr(self._store, "dialect", "sqlite")

    def status_store_url(self) -> str:
        """The store's URL with any password masked."""
        return getattr(self._store, "safe_url", self._store.url)

    def upgrade(self) -> str:
        """Apply pending schema migrations; the resulting revision."""
        return self._store.upgrade()

    def explain(
        self, principal: str, action: str, resource: Resource, zone: Zone, context: dict[str, Any] | None = None
    ) -> PolicyDecision:
        """What the policy decides for any principal — recorded as the caller's policy read."""
        with self._guard.act(
            "policy.read",
            Resource(type="Policy", id="explain"),
            details={"principal": principal, "action": action, "resource": resource.ref, "zone": str(zone)},
        ) as unit:
            return self._guard_for(actor_for(unit.identity, principal)).decide(action, resource, zone, context, unit)

    def fsck(self, progress: Any = None) -> FsckReport:
        """Verify every blob's hash, every reference to a blob, and the audit chain."""
        from leanops.artifacts import Damage
        from leanops.audit import verify_log

        with self._guard.act(
            "project.read", Resource(type="Project", id=self.settings.project), details={"op": "fsck"}
        ) as unit:
            refs = unit.refs.all()
            chain = verify_log(unit, self._checkpointer.key, self._checkpointer.anchor)
        extra = (
            []
            if chain.ok
            else [Damage(kind="audit", digest="-", where=f"audit seq {chain.first_bad_seq}", detail=chain.reason)]
        )
        return fsck(self.artifacts, refs, [lambda: extra], progress=progress)

    def status(self) -> dict[str, Any]:
        with self._guard.act("project.read", Resource(type="Project", id=self.settings.project)) as unit:
            head = unit.audit.head()
            principals = unit.identity.count_principals()
        return {
            "project": self.settings.project,
            "root": str(self.settings.root),
            "actor": self.actor.name,
            "roles": {str(z): [str(r) for r in self.actor.roles_in(z)] for z in Zone},
            "zone": str(self.zone),
            "mode": str(self.mode),
            "store": self.status_store_url(),
            "schema_revision": self._store.revision(),
            "artifacts": self.settings.artifacts_url,
            "principals": principals,
            "audit_records": head.seq,
        }

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def actor_for_name(store: MetadataStore, name: str) -> Actor:
    with store.transaction() as unit:
        return actor_for(unit.identity, name)


def actor_for_token(store: MetadataStore, token: str, now: Any) -> Actor:
    with store.transaction() as unit:
        return authenticate(unit.identity, token, now)


def _build_store(settings: Settings, *, create: bool) -> MetadataStore:
    """The metadata store; only `init` (create=True) may make a SQLite file's folder."""
    from leanops.adapters.sql.store import SqlStore

    return SqlStore(settings.store_url, create=create)
