"""The three zones every resource and action belongs to, and the rules each one carries."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, Field


class Zone(StrEnum):
    SANDBOX = "sandbox"
    STAGING = "staging"
    PRODUCTION = "production"


ZONE_ORDER = (Zone.SANDBOX, Zone.STAGING, Zone.PRODUCTION)


class ZoneRules(BaseModel, extra="forbid"):
    """What a zone demands; enforced by the default policy bundle and the services."""

    allow_sensitive_data: bool = Field(False, description="May actions here read datasets classified sensitive?")
    requires_approval: bool = Field(False, description="Must a human approval record exist before a deploy?")
    required_tags: list[str] = Field(default_factory=list, description="Tags every resource here must carry.")
    requires_rollback_target: bool = Field(False, description="Must a previous approved version exist?")
    requires_complete_metadata: bool = Field(False, description="Must runs carry every required metadata field?")
    hard_ceiling: bool = Field(False, description="Stop and refuse work once the zone's budget is spent.")

    def missing_tags(self, tags: Mapping[str, object]) -> list[str]:
        """The required tags a resource lacks (absent or empty): policies refuse untagged work."""
        return [t for t in self.required_tags if not tags.get(t)]


def default_zone_rules() -> dict[Zone, ZoneRules]:
    """The seed's zones: sandbox is cheap and clean, staging mirrors production's checks."""
    strict = ZoneRules(
        allow_sensitive_data=True,
        requires_approval=True,
        required_tags=["owner", "cost_center"],
        requires_rollback_target=True,
        requires_complete_metadata=True,
    )
    return {
        Zone.SANDBOX: ZoneRules(hard_ceiling=True),
        Zone.STAGING: strict.model_copy(update={"requires_approval": False, "requires_rollback_target": False}),
        Zone.PRODUCTION: strict,
    }
