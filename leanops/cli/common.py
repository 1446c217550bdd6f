"""What every command shares: the console, global options and opening the workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from leanops.workspace import Workspace

console = Console(stderr=False, soft_wrap=True)


@dataclass
class State:
    debug: bool = False
    zone: str | None = None
    token: str | None = None


state = State()


def workspace() -> Workspace:
    """The project found from the working directory, as the configured user or the token."""
    from leanops.zones import Zone

    zone = None
    if state.zone:
        try:
            zone = Zone(state.zone)
        except ValueError:
            from leanops.errors import ValidationError

            raise ValidationError(f"Unknown zone {state.zone!r}.", hint="Use sandbox, staging or production.") from None
    return Workspace.from_config(zone=zone, token=state.token)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for col in columns:
        out.add_column(col)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def print_json(value: Any) -> None:
    """Strict JSON: NaN and infinities become null, so any JSON parser reads the output."""
    console.print_json(json.dumps(_finite(value), default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
