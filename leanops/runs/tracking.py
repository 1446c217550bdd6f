"""`leanops.start_run`: the SDK entry that opens the project's workspace when none is given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanops.runs.handle import Run, active_run
from leanops.zones import Zone

if TYPE_CHECKING:
    from leanops.workspace import Workspace


def start_run(
    purpose: str = "",
    *,
    datasets: Sequence[str] = (),
    features: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    zone: Zone | str | None = None,
    workspace: Workspace | None = None,
    code_dir: Path | None = None,
) -> Run:
    """Start a tracked run in `workspace` (default: the project found from the working directory).

    with leanops.start_run(purpose="baseline", datasets=["customers"], features=["age", "plan"]) as run:
        run.log_params({"C": 1.0})
        run.log_metric("auc", 0.91)
    """
    owned = workspace is None
    if workspace is None:
        from leanops.workspace import Workspace

        workspace = Workspace.from_config()
    ws = workspace
    try:
        return ws.runs.start(
            purpose,
            datasets=datasets,
            features=features,
            params=params,
            tags=tags,
            zone=zone,
            code_dir=code_dir,
            on_end=ws.close if owned else None,
        )
    except BaseException:
        if owned:
            ws.close()
        raise


__all__ = ["Run", "active_run", "start_run"]
