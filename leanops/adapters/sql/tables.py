"""The metadata schema as SQLAlchemy Core tables.

Core rather than the ORM: the hot paths (metric batches, audit appends, run search) are bulk
statements, and records cross into the domain as Pydantic models anyway. Changes to these
tables land only together with an Alembic migration in `migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the metadata store; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UTCDateTime()

projects = Table(
    "projects",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("owner", String(128)),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # user | service
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

role_grants = Table(
    "role_grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("principal", String(128), nullable=False, index=True),
    Column("role", String(32), nullable=False),
    Column("zone", String(16), nullable=True),  # NULL: every zone
    Column("granted_at", Timestamp, nullable=False),
    Column("granted_by", String(128), nullable=False),
    UniqueConstraint("principal", "role", "zone"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("principal", String(128), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("description", String(256), nullable=False, default=""),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
    Column("last_used_at", Timestamp, nullable=True),
    Column("zones", JSON, nullable=True),  # NULL: every zone
    Column("created_by", String(128), nullable=False, server_default=""),
)

# One row: whether this store trusts a configured name (local mode, for one person) or only tokens.
store_trust = Table(
    "store_trust",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("mode", String(8), nullable=False),  # local | team
    Column("local_user", String(128), nullable=True),
    Column("project", String(128), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
)

clearances = Table(
    "clearances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("principal", String(128), nullable=False, index=True),
    Column("data_class", String(16), nullable=False),
    Column("zone", String(16), nullable=True),  # NULL: every zone
    Column("granted_at", Timestamp, nullable=False),
    Column("granted_by", String(128), nullable=False),
    UniqueConstraint("principal", "data_class", "zone"),
)

# Two-person approvals that let a project permit take effect.
policy_approvals = Table(
    "policy_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hash", String(64), nullable=False, index=True),
    Column("change", String(16), nullable=False),  # activate | retire
    Column("approver", String(128), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("at", Timestamp, nullable=False),
    UniqueConstraint("hash", "change", "approver"),
)

# Every project forbid that was ever in force: one removed from the files stays in force
# until two people approve its removal.
policy_forbids = Table(
    "policy_forbids",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("policy_id", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("seen_at", Timestamp, nullable=False),
)

policy_exceptions = Table(
    "policy_exceptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("principal", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),  # exact resource id or '*'
    Column("zone", String(16), nullable=True),
    Column("reason", Text, nullable=False),
    Column("granted_by", String(128), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("decision", String(8), nullable=False),  # allow | deny
    Column("policy_ids", JSON, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("details", JSON, nullable=False),
    Column("policy_bundle", String(64), nullable=False, server_default=""),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_actor_at", "actor", "at"),
    Index("ix_audit_log_resource", "resource"),
)

# One row: the chain's head. Appenders lock it, so the chain stays linear under concurrency.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Every reference from a metadata record to a blob, so fsck and gc need no per-noun knowledge.
artifact_refs = Table(
    "artifact_refs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, index=True),
    Column("owner_kind", String(32), nullable=False),
    Column("owner_id", String(128), nullable=False),
    Column("name", String(512), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("zone", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", Timestamp, nullable=True),
    UniqueConstraint("owner_kind", "owner_id", "name"),
)

# --- runs ---------------------------------------------------------------------------------
# Laid out for search: a run's params, latest metrics and tags sit in narrow key/value tables
# clustered by (run_id, key) (no rowid on SQLite) and indexed on (key, value, run_id), so
# "lr=0.01 and auc>0.8, best auc first" is one join answered from the indexes alone.

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("status", String(16), nullable=False),  # running | finished | failed | killed | incomplete
    Column("approval", String(16), nullable=False),  # unreviewed | approved | rejected
    Column("zone", String(16), nullable=False),
    Column("start_time", Timestamp, nullable=False),
    Column("end_time", Timestamp, nullable=True),
    Column("code_commit", String(64), nullable=True),
    Column("code_dirty", Boolean, nullable=True),
    Column("code_remote", String(512), nullable=True),
    Column("features", JSON, nullable=False),
    Column("environment", JSON, nullable=False),
    Column("data_class", String(32), nullable=False),
    Column("missing", JSON, nullable=False),
    Column("pid", Integer, nullable=True),
    Column("hostname", String(255), nullable=True),
    Column("heartbeat_at", Timestamp, nullable=True),
    Index("ix_runs_status", "status"),
    Index("ix_runs_owner", "owner"),
    Index("ix_runs_start_time", "start_time"),
)

# `value` keeps the whole text; `value_key` (its first 200 characters) carries the index,
# because PostgreSQL refuses b-tree entries past ~2.7 kB and params may be 6,000 characters.
run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Column("value_key", String(200), nullable=False),
    Column("value_num", Float, nullable=True),
    Index("ix_run_params_key_value_key_run_id", "key", "value_key", "run_id"),
    Index("ix_run_params_key_value_num_run_id", "key", "value_num", "run_id"),
    sqlite_with_rowid=False,
)

# Every point, clustered by (run_id, key, step, seq): one b-tree to insert into (on SQLite,
# no rowid table beside it), and a metric's history reads as one contiguous range. `seq`
# numbers a run's points in logging order, so the same step may be logged twice.
# Non-finite values are stored as NULL with a `flag` (nan, inf, -inf): SQLite turns NaN into
# NULL anyway, and a flag keeps the point instead of silently dropping it. `ts` is epoch
# seconds: a float costs nothing to produce inside a training loop.
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("value", Float, nullable=True),
    Column("ts", Float, nullable=False),
    Column("flag", String(8), nullable=True),
    sqlite_with_rowid=False,
)

# The latest point of each metric of each run, upserted on every flush, so filtering and
# sorting by a metric never scans the history.
run_latest_metrics = Table(
    "run_latest_metrics",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
    Column("flag", String(8), nullable=True),
    Index("ix_run_latest_metrics_key_value_run_id", "key", "value", "run_id"),
    sqlite_with_rowid=False,
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", String(500), nullable=False),
    Index("ix_run_tags_key_value_run_id", "key", "value", "run_id"),
    sqlite_with_rowid=False,
)

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("dataset_id", String(128), primary_key=True),  # the snapshot's content id
    Column("ref", String(160), nullable=True),  # name@vN as given
    Column("name", String(128), nullable=True),
    Column("data_class", String(32), nullable=False),
    Index("ix_run_datasets_dataset_id_run_id", "dataset_id", "run_id"),
    Index("ix_run_datasets_ref_run_id", "ref", "run_id"),
    Index("ix_run_datasets_name_run_id", "name", "run_id"),
    sqlite_with_rowid=False,
)

# --- model registry --------------------------------------------------------------------------
# A version's manifest and lineage are frozen at registration, so they are stored whole (JSON);
# evidence, approvals and alias moves are append-only, ordered by their `seq`.

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("owner", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
)

model_evidence = Table(
    "model_evidence",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("zone", String(16), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("rules_file", Text, nullable=False),
    Column("rules_digest", String(64), nullable=False),
    Column("rules_commit", String(64), nullable=True),
    Column("requirement", JSON, nullable=False),
    Column("items", JSON, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
    Index("ix_model_evidence_name_version_zone", "name", "version", "zone"),
)

model_approvals = Table(
    "model_approvals",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("zone", String(16), nullable=False),
    Column("approver", String(128), nullable=False),
    Column("approved_at", Timestamp, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence_id", String(32), nullable=False),
    Index("ix_model_approvals_name_zone", "name", "zone"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("zone", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous", Integer, nullable=True),
    Column("action", String(16), nullable=False),  # promote | rollback
    Column("actor", String(128), nullable=False),
    Column("at", Timestamp, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence_id", String(32), nullable=True),
    Column("approval_id", String(32), nullable=True),
    Index("ix_model_alias_history_name_zone", "name", "zone"),
)

# --- jobs ---------------------------------------------------------------------------------
# A job row holds its resolved spec and state; each attempt has a row with its cause and
# metering (wall, CPU, peak memory): the input to the cost ledger.

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("submitted_by", String(128), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("executor", String(16), nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # queued | running | succeeded | failed | timed_out | cancelled | lost
    Column("spec", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("spec_path", Text, nullable=False),
    Column("spec_commit", String(64), nullable=True),
    Column("code_commit", String(64), nullable=True),
    Column("code_dirty", Boolean, nullable=True),
    Column("promotable", Boolean, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("sweep_id", String(32), nullable=True),
    Column("datasets", JSON, nullable=False),
    Column("data_class", String(32), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("resources", JSON, nullable=False),
    Column("deadline_seconds", Float, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("started_at", Timestamp, nullable=True),
    Column("ended_at", Timestamp, nullable=True),
    Column("deadline_at", Timestamp, nullable=True),
    Column("cancel_requested_at", Timestamp, nullable=True),
    Column("warned_at", Timestamp, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("runner_host", String(255), nullable=False),
    Column("runner_pid", Integer, nullable=True),
    Index("ix_jobs_status_zone", "status", "zone"),
    Index("ix_jobs_owner", "owner"),
    Index("ix_jobs_created_at", "created_at"),
    Index("ix_jobs_sweep_id", "sweep_id"),
)

job_attempts = Table(
    "job_attempts",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("cause", Text, nullable=False),
    Column("exit_code", Integer, nullable=True),
    Column("signal", Integer, nullable=True),
    Column("exception", String(128), nullable=True),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp, nullable=True),
    Column("start_latency_seconds", Float, nullable=True),
    Column("wall_seconds", Float, nullable=False),
    Column("cpu_seconds", Float, nullable=False),
    Column("peak_rss_bytes", BigInteger, nullable=False),
    Column("log_digest", String(64), nullable=True),
    Column("log_size", BigInteger, nullable=False),
    Column("host", String(255), nullable=False),
)

# --- cost ---------------------------------------------------------------------------------
# Money is stored as integer micro-units (1e-6 of the currency), so sums are exact on every
# backend. The common tags are columns (budgets and reports filter on them); all tags stay in
# `tags` too. `source` names what was metered and is unique: nothing is charged twice.

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(255), nullable=False, unique=True),
    Column("at", Timestamp, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("project", String(128), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("job_id", String(32), nullable=True),
    Column("amount_micros", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("usage", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("refs", JSON, nullable=False),
    Column("untagged", JSON, nullable=False),
    Column("recorded_at", Timestamp, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Index("ix_ledger_zone_at", "zone", "at"),
    Index("ix_ledger_at", "at"),
    Index("ix_ledger_job_id", "job_id"),
    Index("ix_ledger_model", "model"),
)

budgets = Table(
    "budgets",
    metadata,
    Column("key", String(160), primary_key=True),  # zone/project, '*' for the whole zone
    Column("zone", String(16), nullable=False),
    Column("project", String(128), nullable=True),
    Column("monthly_micros", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("thresholds", JSON, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# Each threshold crossing, once per budget, month, basis and percentage: the alert's memory.
budget_alerts = Table(
    "budget_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget", String(160), nullable=False),
    Column("period", String(7), nullable=False),
    Column("basis", String(8), nullable=False),  # actual | forecast
    Column("percent", Integer, nullable=False),
    Column("value_micros", BigInteger, nullable=False),
    Column("limit_micros", BigInteger, nullable=False),
    Column("fired_at", Timestamp, nullable=False),
    UniqueConstraint("budget", "period", "basis", "percent"),
)

# Approved spend past a budget that does not stop work (production): who allowed how much, and why.
budget_overspends = Table(
    "budget_overspends",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("budget", String(160), nullable=False),
    Column("period", String(7), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("approved_by", String(128), nullable=False),
    Column("approved_at", Timestamp, nullable=False),
    Index("ix_budget_overspends_budget_period", "budget", "period"),
)

# --- datasets -----------------------------------------------------------------------------
# One row per content (keyed by its hash, so identical bytes are described once) and one per
# `name@vN` registration pointing at it.

dataset_snapshots = Table(
    "dataset_snapshots",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # file | folder
    Column("format", String(16), nullable=False),  # csv | parquet | files
    Column("size", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=True),
    Column("files", JSON, nullable=False),
    Column("profile", JSON, nullable=True),
    Column("data_class", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("zone", String(16), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("snapshot_id", String(64), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("contract", JSON, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("zone", String(16), nullable=False),
    UniqueConstraint("name", "version"),
    UniqueConstraint("name", "snapshot_id"),
)


# One row per server process and version served; a hot swap stops one row and starts the next.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("zone", String(16), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("started_by", String(128), nullable=False),
    Column("stopped_at", Timestamp, nullable=True),
    Column("stop_reason", Text, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("metered_at", Timestamp, nullable=True),
    Index("ix_deployments_name_zone", "name", "zone"),
)


# One row per alert (a tier of a check of a model in a zone), from pending or firing to resolved.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("check", String(64), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=False),
    Column("op", String(4), nullable=False),
    Column("window", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("next_steps", Text, nullable=False),
    Column("runbook", Text, nullable=False),
    Column("since", Timestamp, nullable=False),
    Column("fired_at", Timestamp, nullable=True),
    Column("resolved_at", Timestamp, nullable=True),
    Column("evaluated_at", Timestamp, nullable=False),
    Column("acked_by", String(128), nullable=True),
    Column("acked_at", Timestamp, nullable=True),
    Column("rollback", JSON, nullable=True),
    Index("ix_alerts_model_zone_state", "model", "zone", "state"),
)
