"""Creating a project: the commented leanops.yaml a newcomer starts from."""

from __future__ import annotations

import getpass
from pathlib import Path

from leanops.config import CONFIG_FILE, STATE_DIR
from leanops.errors import Conflict, ValidationError

TEMPLATE = """\
# leanops project configuration. Every key can be overridden by an environment variable:
# LEANOPS_<KEY>, nested keys joined by "__" (LEANOPS_STORE__URL, LEANOPS_ZONE, LEANOPS_USER).
# `leanops config show` prints the effective value of each key and where it came from.

project: {project}          # names and tags every resource and ledger entry
owner: {owner}              # who answers for this project (and its budget by default)
user: {owner}               # who the local CLI and SDK act as; servers use tokens instead
zone: sandbox               # the zone actions happen in unless one is named

store:
  # Metadata: SQLite in WAL mode by default (relative to this file), or PostgreSQL:
  # postgresql+psycopg://user@host:5432/leanops
  url: sqlite:///{state}/leanops.db

artifacts:
  # Content-addressed blobs: a folder (relative to this file) or s3://bucket/prefix
  url: {state}/artifacts
  # endpoint_url: http://127.0.0.1:9000   # for S3-compatible stores (MinIO, Ceph, ...)

zones:
  sandbox:
    allow_sensitive_data: false   # sandbox never reads data classified sensitive
    hard_ceiling: true            # work stops once the sandbox budget is spent
  staging:                        # staging runs the same checks as production
    allow_sensitive_data: true
    required_tags: [owner, cost_center]
    requires_complete_metadata: true
  production:
    allow_sensitive_data: true
    requires_approval: true       # a human approval record before any deploy
    required_tags: [owner, cost_center]
    requires_rollback_target: true
    requires_complete_metadata: true

data:
  allowed_sources:                # glob patterns; datasets from elsewhere are refused
    - "file://*"

policy:
  paths: [policies]               # project Cedar policies, added to the shipped bundle
  escalation: "Ask an admin for a time-boxed exception: leanops policy exception grant"

runs:
  # Metadata a run must carry. A run missing any ends `incomplete` and can never become a
  # model version; `leanops runs validate ID` lists what is missing. Default: every field:
  # run_id owner purpose code_commit code_dirty code_remote datasets features params
  # metrics artifacts environment start_time end_time status approval tags
  # required_fields: [owner, purpose, code_commit, datasets, params, metrics, environment]
  flush_interval_seconds: 5       # logged params and metrics reach the store at least this often
  flush_size: 5000                # ...or as soon as this many points are waiting
  # heartbeat_seconds: 30         # a running run proves it is alive this often
  # stale_after_seconds: 600      # a running run silent this long is marked killed

jobs:
  executor: local                 # local processes, or ray (pip install 'leanops[ray]')
  # ray_address: ray://head:10001 # a Ray cluster; unset: a local Ray instance
  warn_fraction: 0.8              # alert a job's owner past this share of its deadline
  grace_seconds: 10               # SIGTERM, this long to save a checkpoint, then SIGKILL
  scratch_root: {state}/scratch   # per-attempt scratch; a shared path when using a Ray cluster
  scratch_ttl: 24h                # attempt logs and outputs are kept this long (`leanops gc`)
  secrets_file: ~/.config/leanops/secrets.env   # NAME=value lines, kept outside the repository
  quotas:                         # per zone: longest deadline, jobs at once, trials per sweep
                                  # (and per job: max_cpu 16, max_memory 64Gi, max_gpu 1 by default)
    sandbox:
      max_deadline: 2h
      max_concurrent_jobs: 4
      max_sweep_trials: 20
    staging:
      max_deadline: 12h
      max_concurrent_jobs: 4
      max_sweep_trials: 50
    production:
      max_deadline: 24h
      max_concurrent_jobs: 2
      max_sweep_trials: 50

notify:
  # Where alerts to owners go (timeouts, retries exhausted, budgets, monitoring):
  # stdout, stderr, file:PATH, https://… (a JSON webhook), slack+https://hooks.slack.com/…
  sinks: [stderr, "file:{state}/notifications.log"]

currency: USD                     # of prices, budgets and the ledger
prices:                           # example list prices: set your provider's
  cpu_hour: 0.05                  # one CPU core for an hour
  gpu_hour: 2.50                  # one GPU for an hour
  memory_gb_hour: 0.005           # one GB of memory for an hour
  storage_gb_month: 0.023         # one GB of artifacts or snapshots kept for a month
  requests_1k: 0.01               # 1,000 prediction requests
  endpoint_hour: 0.10             # one serving endpoint up for an hour

budgets:
  thresholds: [50, 80, 100]       # % of actual and of forecast spend; each alerts the owner once a month
  # default_tags: {{cost_center: ml-platform}}   # for spend that carries no tag of its own
  # initial:                      # in force until `leanops budget set` replaces them
  #   - {{zone: sandbox, monthly: 50, owner: {owner}}}      # a hard ceiling: jobs stop when it is spent
  #   - {{zone: production, monthly: 500, owner: {owner}}}  # never stops serving; overspend needs an approver

# naming:                         # regular expressions names must match when created (unset: any)
#   dataset: "^[a-z]+-[a-z0-9-]+$"          # <team>-<what>, e.g. growth-customers
#   job: "^(train|eval|score)-[a-z0-9-]+$"
#   model: "^[a-z][a-z0-9-]*$"
#   endpoint: "^[a-z][a-z0-9-]*$"
"""

POLICY_README = """\
# Project policies

Cedar files (`*.cedar`) here are added to leanops' default bundle and validated against its
schema. Check them with `leanops policy check`; see the decision for a request with
`leanops policy explain`; write the human-readable summary with `leanops policy doc`.
"""


def write_project(folder: Path, *, project: str | None = None, owner: str | None = None, force: bool = False) -> Path:
    """Write leanops.yaml, policies/ and .leanops/ into `folder`; refuse to overwrite a config."""
    folder = folder.resolve()
    config = folder / CONFIG_FILE
    if config.exists() and not force:
        raise Conflict(f"{config} exists already.", hint="Use --force to overwrite it, or edit it by hand.")
    name = project or folder.name or "default"
    owner = owner or getpass.getuser()
    for value, what in ((name, "project"), (owner, "owner")):
        if not value or any(c.isspace() or c in ":#'\"" for c in value):
            raise ValidationError(
                f"{what} {value!r} cannot be used in {CONFIG_FILE}.", hint="Use letters, digits, '-', '_' or '.'."
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_DIR).mkdir(exist_ok=True)
    (folder / STATE_DIR / ".gitignore").write_text("*\n")
    policies = folder / "policies"
    policies.mkdir(exist_ok=True)
    if not (policies / "README.md").exists():
        (policies / "README.md").write_text(POLICY_README)
    tmp = config.with_suffix(".yaml.tmp")
    tmp.write_text(TEMPLATE.format(project=name, owner=owner, state=STATE_DIR))
    tmp.replace(config)
    return config
