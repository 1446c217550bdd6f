"""The model registry: versions with lineage, evidence-backed approvals, zone promotion, rollback.

    mv = ws.models.register(run.id, name="churn")
    ws.models.evaluate("churn", mv.version, zone="staging")     # evidence, item by item
    ws.models.promote("churn", mv.version, "staging", reason="passes the holdout")
    ws.models.rollback("churn", "production", reason="latency alert")

`models` holds the records, `rules` the promotion rules and pure decisions, `evaluation` and
`gather` the evidence collection, `versions` and `release` the guarded operations behind the
one `service`.
"""

from leanops.registry.models import (
    Alias,
    AliasMove,
    Approval,
    Check,
    Evidence,
    EvidenceItem,
    History,
    Lineage,
    LineageReport,
    Manifest,
    ModelVersion,
    Requirement,
)
from leanops.registry.rules import (
    PromotionRules,
    Threshold,
    evaluate_thresholds,
    evidence_gaps,
    evidence_passes,
    load_rules,
    previous_approved,
    serving_stack,
)
from leanops.registry.service import RegistryService

__all__ = [
    "Alias",
    "AliasMove",
    "Approval",
    "Check",
    "Evidence",
    "EvidenceItem",
    "History",
    "Lineage",
    "LineageReport",
    "Manifest",
    "ModelVersion",
    "PromotionRules",
    "RegistryService",
    "Requirement",
    "Threshold",
    "evaluate_thresholds",
    "evidence_gaps",
    "evidence_passes",
    "load_rules",
    "previous_approved",
    "serving_stack",
]
