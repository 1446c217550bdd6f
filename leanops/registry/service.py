"""RegistryService (`ws.models`): one face over model versions and their release gates.

`versions` registers and reads versions; `release` gathers evidence, records approvals and
moves zone aliases. This class holds what they share and the public calls, all guarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.config import Settings
from leanops.events import EventBus
from leanops.guard import Guard
from leanops.ports import ArtifactStore, Clock, Unit
from leanops.registry.models import Alias, AliasMove, Approval, Evidence, History, LineageReport, ModelVersion
from leanops.registry.package import load_package
from leanops.registry.release import Releases
from leanops.registry.rules import PromotionRules
from leanops.registry.versions import Versions
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.runs import RunRecord, RunService


class RegistryService:
    """`ws.models`: the model registry of one project, acting as the guard's actor."""

    def __init__(
        self,
        guard: Guard,
        artifacts: ArtifactStore,
        runs: RunService,
        datasets: Callable[[], Any] | None = None,
        clock: Clock | None = None,
        settings: Settings | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self._guard = guard
        self.bus = bus or EventBus()  # cost hears evaluations on it
        self.artifacts = artifacts
        self.runs = runs
        self._datasets = datasets or (lambda: None)
        self.clock = clock or guard.clock
        self.settings = settings or Settings()
        self._versions = Versions(self)
        self._releases = Releases(self)

    # -- versions -------------------------------------------------------------------------

    def register(
        self, run_id: str, name: str, *, model: str = "model", parent: int | str | None = None, description: str = ""
    ) -> ModelVersion:
        """Make the next version of `name` from a finished, complete run's logged model.

        ws.models.register(run.id, name="churn")
        """
        return self._versions.register(run_id, name, model=model, parent=parent, description=description)

    def get(self, name: str, version: int | str = "latest") -> ModelVersion:
        """A version by number (3, "v3"), by the zone serving it ("production") or "latest"."""
        return self._versions.get(name, version)

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of `name`), by name then version."""
        return self._versions.list(name)

    def aliases(self, name: str | None = None) -> list[Alias]:
        return self._versions.aliases(name)

    def lineage(self, name: str, version: int | str = "latest") -> LineageReport:
        """version → run → dataset snapshots → code commit → feature set → parent versions."""
        return self._versions.lineage(name, version)

    def load(self, name: str, version: int | str = "production", *, trusted: Iterable[str] = ()) -> Any:
        """The model object of a version (or of the version a zone serves), from verified bytes.

        model = ws.models.load("churn", "production")
        """
        return self._versions.load(name, version, trusted=trusted)

    def verify(self, name: str, version: int | str) -> ModelVersion:
        """Re-hash every file of a version's package (`IntegrityError` on a mismatch)."""
        return self._versions.verify(name, version)

    # -- release gates --------------------------------------------------------------------

    def history(self, name: str) -> History:
        """Every alias move of `name` and which version each zone served when."""
        return self._releases.history(name)

    def evidence(self, name: str, version: int | str, zone: Zone | str) -> Evidence | None:
        """The latest evidence record of a version for a zone, if it was evaluated."""
        return self._releases.evidence(name, version, zone)

    def evaluate(
        self,
        name: str,
        version: int | str,
        zone: Zone | str,
        *,
        rules: Path | str | None = None,
        trusted: Iterable[str] = (),
    ) -> Evidence:
        """Collect and store the evidence for serving a version in `zone`, item by item.

        ev = ws.models.evaluate("churn", 3, zone="staging")
        ev.passed, [(i.name, i.passed) for i in ev.items]
        """
        return self._releases.evaluate(name, version, zone, rules=rules, trusted=trusted)

    def approve(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> Approval:
        """Record an approver's approval of a version for a zone, tied to its passing evidence.

        The policy refuses the model's own author (four eyes) and anyone not an approver."""
        return self._releases.approve(name, version, zone, reason=reason)

    def promote(self, name: str, version: int | str, zone: Zone | str, *, reason: str) -> AliasMove:
        """Point `zone`'s alias at a version — if the policy allows and its evidence passes.

        ws.models.promote("churn", 3, "production", reason="beats v2 on the March holdout")
        """
        return self._releases.promote(name, version, zone, reason=reason)

    def rollback(self, name: str, zone: Zone | str, *, reason: str) -> AliasMove:
        """Return `zone`'s alias to the version it served before, if that one was approved there.

        One call for a person (`leanops rollback`) and for automation: a service account with
        the approver role may call it, e.g. when monitoring sees a release misbehave.

            ws.models.rollback("churn", "production", reason="p95 latency alert")
        """
        return self._releases.rollback(name, zone, reason=reason)

    def rules(self, name: str, rules: Path | str | None = None) -> PromotionRules:
        """The promotion rules of `name`, validated (`ConfigError` names file, line and key)."""
        return self._releases.rules(name, rules)

    def approved_versions(self, unit: Unit, name: str, zone: Zone) -> set[int] | None:
        """The versions a rollback of `zone` may return to (None: the zone needs no approval)."""
        return self._releases.approved_versions(unit, name, zone)

    # -- what the parts (and evidence gathering) share ------------------------------------

    def _load(self, mv: ModelVersion, trusted: Iterable[str] = ()) -> Any:
        return load_package(self.artifacts, mv.manifest, trusted)

    def _tagged(self, run: RunRecord, zone: Zone) -> bool:
        return not self.missing_tags(run, zone)

    def missing_tags(self, run: RunRecord, zone: Zone) -> list[str]:
        rules = self.settings.zones.get(zone)
        return rules.missing_tags(run.tags) if rules else []


__all__ = ["RegistryService"]
