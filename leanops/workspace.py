"""The composition root: the one place that decides which adapter implements each port.

    ws = Workspace.from_config()          # reads leanops.yaml, builds SQLite + local folder
    ws.users.add("bob", roles=[Role.DEVELOPER])
    ws.audit.verify()

Every service hangs off the workspace and receives the same `Guard`, so policy, audit and
(later) cost metering are wired once, here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.artifacts import FsckReport, fsck
from leanops.audit import AuditService
from leanops.config import Settings, load_settings
from leanops.governance import Governance
from leanops.guard import Guard
from leanops.identity import Actor, PrincipalKind, RoleGrant, actor_for, authenticate
from leanops.policy import PolicyDecision, PolicyEngine, Resource, Role
from leanops.ports import ArtifactStore, Clock, Executor, MetadataStore, Notifier, SystemClock
from leanops.users import UserService
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.cost.service import CostService
    from leanops.datasets import DatasetService
    from leanops.jobs import JobService
    from leanops.registry import RegistryService
    from leanops.runs import RunService


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
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = store or _build_store(settings)
        if migrate and getattr(self.store, "needs_upgrade", lambda: False)():
            self.store.upgrade()
        self._artifacts = artifacts
        self._policy = policy
        self.zone = Zone(zone or settings.zone)
        self._token, self._user = token, user or settings.acting_user

    @classmethod
    def from_config(cls, path: Path | None = None, **kwargs: Any) -> Workspace:
        """Open the project whose leanops.yaml is at or above `path` (default: the working directory)."""
        return cls(load_settings(path), **kwargs)

    @cached_property
    def actor(self) -> Actor:
        """Who acts: the token's principal, else the configured user (no role if unregistered)."""
        with self.store.transaction() as unit:
            if self._token:
                return authenticate(unit.identity, self._token, self.clock.now())
            return actor_for(unit.identity, self._user)

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

            self._policy = CedarPolicyEngine.load([self.settings.root / p for p in self.settings.policy.paths])
        return self._policy

    @cached_property
    def guard(self) -> Guard:
        return self.guard_for(self.actor)

    def guard_for(self, actor: Actor) -> Guard:
        from leanops.cost.naming import naming_check

        return Guard(
            self.store,
            self.policy_engine,
            self.clock,
            actor,
            zone=self.zone,
            escalation=self.settings.policy.escalation,
            checks=[naming_check(self.settings.naming)],
        )

    @cached_property
    def users(self) -> UserService:
        return UserService(self.guard)

    @cached_property
    def audit(self) -> AuditService:
        return AuditService(self.guard)

    @cached_property
    def governance(self) -> Governance:
        return Governance(self.guard)

    @cached_property
    def datasets(self) -> DatasetService:
        from leanops.datasets import DatasetService

        return DatasetService(self.guard, self.artifacts, allowed_sources=self.settings.data.allowed_sources)

    @cached_property
    def models(self) -> RegistryService:
        from leanops.registry import RegistryService

        return RegistryService(
            self.guard,
            self.artifacts,
            self.runs,
            lambda: getattr(self, "datasets", None),
            clock=self.clock,
            settings=self.settings,
            cost=lambda: getattr(self, "cost", None),
        )

    @cached_property
    def runs(self) -> RunService:
        from leanops.runs import RunService

        return RunService(
            self.guard,
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
        from leanops.jobs import JobService

        return JobService(
            self.guard,
            self.executor,
            self.notifier,
            self.settings.jobs,
            root=self.settings.root,
            artifacts=self.artifacts,
            runs=lambda: self.runs,
            datasets=lambda: getattr(self, "datasets", None),
            zone_rules=self.settings.zones,
            cost=lambda: getattr(self, "cost", None),
        )

    @cached_property
    def cost(self) -> CostService:
        from leanops.cost.service import CostService

        return CostService(self.guard, self.notifier, self.settings, jobs=lambda: self.jobs, models=lambda: self.models)

    # -- project-level operations -------------------------------------------------------

    def bootstrap(self, admin: str | None = None) -> bool:
        """Make the first admin of an empty project; a no-op (False) once anyone is registered.

        Deny-by-default needs someone to grant the first role; that is whoever initialises.
        """
        name = admin or self.actor.name
        now = self.clock.now()
        with self.store.transaction() as unit:
            if unit.identity.count_principals():
                return False
            from leanops.identity import Principal

            unit.identity.add_principal(Principal(name=name, kind=PrincipalKind.USER, created_at=now, created_by=name))
            unit.identity.add_grant(RoleGrant(principal=name, role=Role.ADMIN, granted_at=now, granted_by=name))
        self.actor = actor_for_name(self.store, name)
        self.__dict__.pop("guard", None)
        with self.guard.act(
            "project.init",
            Resource(type="Project", id=self.settings.project, owner=name),
            details={"bootstrap_admin": name},
        ):
            pass
        return True

    def explain(
        self, principal: str, action: str, resource: Resource, zone: Zone, context: dict[str, Any] | None = None
    ) -> PolicyDecision:
        """What the policy decides for any principal — recorded as the caller's policy read."""
        with self.guard.act(
            "policy.read",
            Resource(type="Policy", id="explain"),
            details={"principal": principal, "action": action, "resource": resource.ref, "zone": str(zone)},
        ) as unit:
            return self.guard_for(actor_for(unit.identity, principal)).decide(action, resource, zone, context, unit)

    def fsck(self, progress: Any = None) -> FsckReport:
        """Verify every blob's hash, every reference to a blob, and the audit chain."""
        from leanops.artifacts import Damage
        from leanops.audit import verify_chain

        with self.guard.act(
            "project.read", Resource(type="Project", id=self.settings.project), details={"op": "fsck"}
        ) as unit:
            refs = unit.refs.all()
            chain = verify_chain(unit.audit.scan(), unit.audit.head())
        extra = (
            []
            if chain.ok
            else [Damage(kind="audit", digest="-", where=f"audit seq {chain.first_bad_seq}", detail=chain.reason)]
        )
        return fsck(self.artifacts, refs, [lambda: extra], progress=progress)

    def status(self) -> dict[str, Any]:
        with self.guard.act("project.read", Resource(type="Project", id=self.settings.project)) as unit:
            head = unit.audit.head()
            principals = unit.identity.count_principals()
        return {
            "project": self.settings.project,
            "root": str(self.settings.root),
            "actor": self.actor.name,
            "roles": {str(z): [str(r) for r in self.actor.roles_in(z)] for z in Zone},
            "zone": str(self.zone),
            "store": getattr(self.store, "safe_url", self.store.url),
            "schema_revision": self.store.revision(),
            "artifacts": self.settings.artifacts_url,
            "principals": principals,
            "audit_records": head.seq,
        }

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def actor_for_name(store: MetadataStore, name: str) -> Actor:
    with store.transaction() as unit:
        return actor_for(unit.identity, name)


def _build_store(settings: Settings) -> MetadataStore:
    from leanops.adapters.sql.store import SqlStore

    return SqlStore(settings.store_url)
