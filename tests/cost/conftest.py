"""Cost fixtures: a workspace on a fixed clock (mid-June 2026) with a recording notifier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leanops.adapters.memory import FixedClock, RecordingNotifier
from leanops.cost import Usage
from leanops.workspace import Workspace

# June has 30 days; the 16th at 00:00 is exactly half of it.
T0 = datetime(2026, 6, 16, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def cws(ws: Workspace, clock: FixedClock) -> Workspace:
    """The `ws` fixture on a fixed clock, alerting into memory."""
    ws.clock = clock
    ws.__dict__.pop("_guard", None)
    ws.notifier = RecordingNotifier()  # type: ignore[misc]
    ws.settings.jobs.grace_seconds, ws.settings.jobs.poll_seconds = 0.5, 0.1
    return ws


@pytest.fixture
def spend(cws: Workspace) -> Callable[..., object]:
    """Record `amount` of spend (as endpoint hours at 0.10 each): `spend(5, zone="sandbox", owner="bob")`."""
    counter = iter(range(10**6))

    def record(amount: float, *, source: str | None = None, at: datetime | None = None, **tags: str) -> object:
        tags = {"owner": "alice", "cost_center": "ml", **tags}
        return cws.cost.record_usage(
            "serving", Usage(endpoint_hours=amount * 10), tags=tags, source=source or f"test:{next(counter)}", at=at
        )

    return record


def write_spec(root: Path, name: str, command: list[str], *, deadline: str = "60s", **extra: object) -> Path:
    """A job spec under jobs/ running `command`."""
    import yaml

    spec = {"name": name, "entrypoint": command, "owner": "alice", "deadline": deadline, **extra}
    path = root / "jobs" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(spec))
    return path
