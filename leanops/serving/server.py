"""Assembling a model server from a project: workspace, live model, prediction log, app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from leanops.serving.live import LiveModel
from leanops.serving.predlog import PredictionLog
from leanops.workspace import Workspace
from leanops.zones import Zone


def build(
    name: str,
    zone: Zone | str,
    *,
    endpoint: str,
    root: str | Path = ".",
    trusted: tuple[str, ...] = (),
    workspace: Workspace | None = None,
) -> tuple[FastAPI, LiveModel]:
    """A ready app serving `zone`'s version of `name`; raises before any socket opens when that
    version may not serve (no alias, no approval, changed bytes)."""
    ws = workspace or Workspace.from_config(Path(root))
    settings = ws.settings.serving
    live = LiveModel(ws.serving, name, Zone(str(zone).lower()), endpoint, trusted=trusted)
    log = PredictionLog(
        ws.serving.log_dir(name, live.zone),
        sample_rate=settings.sample_rate,
        inputs=settings.log_inputs,
        capacity=settings.queue_size,
    )
    from leanops.serving.app import create_app

    app = create_app(
        live,
        log,
        max_body_bytes=settings.max_body_bytes,
        poll_seconds=settings.poll_seconds,
        meter_seconds=settings.meter_seconds,
    )
    return app, live
