"""Run queries as plain functions: friendly filter arguments into a `RunFilter`, and search
pages or runs side by side into DataFrames, each built once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leanops.errors import ValidationError
from leanops.runs.models import (
    MetricFilter,
    ParamFilter,
    RunFilter,
    RunRecord,
    RunStatus,
    check_sort,
    flagged_value,
    key_value,
    metric_filter,
    param_filter,
    param_row,
)

if TYPE_CHECKING:
    import pandas as pd


def run_filter(
    *,
    params: Mapping[str, Any] | Sequence[str] = (),
    metrics: Sequence[str] = (),
    tags: Mapping[str, Any] | Sequence[str] = (),
    status: RunStatus | str | None = None,
    owner: str | None = None,
    dataset: str | None = None,
    sort: str | None = None,
    descending: bool = False,
    limit: int = 1000,
) -> RunFilter:
    """A RunFilter from friendly arguments: `params={"lr": 0.01}` or `["lr>=0.01"]`, `metrics=["auc>0.8"]`."""
    if isinstance(params, Mapping):
        pfs = [ParamFilter(key=param_row(k, v)[0], value=param_row(k, v)[1]) for k, v in params.items()]
    else:
        pfs = [param_filter(p) for p in params]
    mfs: list[MetricFilter] = [metric_filter(m) for m in metrics]
    tag_map = dict(tags.items()) if isinstance(tags, Mapping) else dict(key_value(t, "Tag") for t in tags)
    try:
        run_status = RunStatus(status) if status else None
    except ValueError:
        raise ValidationError(f"Unknown status {status!r}.", hint=f"Use one of {', '.join(RunStatus)}.") from None
    return RunFilter(
        params=pfs,
        metrics=mfs,
        tags={k: str(v) for k, v in tag_map.items()},
        status=run_status,
        owner=owner,
        dataset=dataset,
        sort=check_sort(sort),
        descending=descending,
        limit=limit,
    )


def page_frame(page: Any) -> pd.DataFrame:
    """The DataFrame of one search page, assembled column by column and built once."""
    import pandas as pd

    names = ["run_id", *page.columns[1:]]
    columns = list(zip(*page.runs, strict=True)) if page.runs else [() for _ in names]
    data: dict[str, Any] = dict(zip(names, columns, strict=True))
    index = {rid: i for i, rid in enumerate(data["run_id"])}
    n = len(index)
    for prefix, rows in (("params", page.params), ("metrics", page.metrics), ("tags", page.tags)):
        block: dict[str, list[Any]] = {}
        numeric = prefix == "metrics"
        for row in rows:
            column = block.get(row[1])
            if column is None:
                column = block[row[1]] = [math.nan if numeric else None] * n
            column[index[row[0]]] = (row[2] if row[3] is None else flagged_value(row[2], row[3])) if numeric else row[2]
        data |= {f"{prefix}.{key}": block[key] for key in sorted(block)}
    frame = pd.DataFrame(data)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def compare_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Runs side by side: one column per run, one row per field, param and metric."""
    import pandas as pd

    fields: dict[str, dict[str, Any]] = {}
    for rec in records:
        column = {
            "status": str(rec.status),
            "owner": rec.owner,
            "purpose": rec.purpose,
            "zone": rec.zone,
            "start_time": rec.start_time,
            "end_time": rec.end_time,
            "approval": str(rec.approval),
            "code_commit": rec.code.commit,
            "code_dirty": rec.code.dirty,
            "datasets": ", ".join(d.ref or d.id for d in rec.datasets),
            "data_class": rec.data_class,
            "features": ", ".join(rec.features),
            "python": rec.environment.python if rec.environment else None,
            "packages_hash": rec.environment.packages_hash[:12] if rec.environment else None,
        }
        column |= {f"params.{k}": v for k, v in rec.params.items()}
        column |= {f"metrics.{k}": v for k, v in rec.metrics.items()}
        column |= {f"tags.{k}": v for k, v in rec.tags.items()}
        fields[rec.id] = column
    frame = pd.DataFrame(fields)
    base = [i for i in frame.index if "." not in i]
    extra = sorted(i for i in frame.index if "." in i)
    return frame.loc[base + extra]
