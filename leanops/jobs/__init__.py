"""Training jobs: specs in git, deadlines, retries, teardown, owners and TTLs.

    job = ws.jobs.run("jobs/train.yaml", ["lr=0.01"])
    job.status, job.run_id, [a.metering for a in job.attempt_records]

`spec` is the YAML format and its checks, `retry` the pure rules on why an attempt ended,
`runner` one job's attempts under its deadline, `service` the guarded operations (with
`planning`, `execution`, `housekeeping` and `gc` behind it), `sweep` fanning a spec out over a grid or random search, `context` what an entrypoint sees, and
`bootstrap` the tiny script that runs a `module:function` entrypoint in the job's process.
"""

from leanops.jobs.context import JobContext, context
from leanops.jobs.gc import GcReport
from leanops.jobs.models import AttemptRecord, JobRecord, JobStatus, Metering
from leanops.jobs.retry import Cause, classify
from leanops.jobs.service import JobService
from leanops.jobs.spec import JobSpec, LoadedSpec, RetryPolicy, load_spec

__all__ = [
    "AttemptRecord",
    "Cause",
    "GcReport",
    "JobContext",
    "JobRecord",
    "JobService",
    "JobSpec",
    "JobStatus",
    "LoadedSpec",
    "Metering",
    "RetryPolicy",
    "classify",
    "context",
    "load_spec",
]
