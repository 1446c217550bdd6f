"""Experiment tracking as code, with a required metadata schema.

    with leanops.start_run(purpose="baseline", datasets=["customers"], features=["age"]) as run:
        run.log_params({"C": 1.0})
        run.log_metric("auc", 0.91)
        run.log_model(model, input_example=X_train)

`models` holds the records and pure rules, `environment` what a run captures about its code
and interpreter, `handle` the buffered live run, `query` filters and DataFrames, `service`
the guarded operations.
"""

from leanops.runs.handle import Run, active_run
from leanops.runs.models import (
    RUN_FIELDS,
    Approval,
    RunFilter,
    RunRecord,
    RunStatus,
    Validation,
)
from leanops.runs.service import RunService
from leanops.runs.tracking import start_run

__all__ = [
    "RUN_FIELDS",
    "Approval",
    "Run",
    "RunFilter",
    "RunRecord",
    "RunService",
    "RunStatus",
    "Validation",
    "active_run",
    "start_run",
]
