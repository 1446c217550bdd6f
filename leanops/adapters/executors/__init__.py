"""Executors: where job attempts run. Chosen by name (`jobs.executor` in leanops.yaml)."""

from __future__ import annotations

from typing import Any

from leanops.errors import ConfigError
from leanops.ports import Executor

EXECUTORS = ("local", "ray")


def build_executor(name: str, **options: Any) -> Executor:
    """The executor called `name`: `local` (default) or `ray` (needs `pip install 'leanops[ray]'`)."""
    if name == "local":
        from leanops.adapters.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from leanops.adapters.executors.ray import RayExecutor

        return RayExecutor(address=options.get("address"))
    raise ConfigError(f"Unknown executor {name!r}.", hint=f"Use one of: {', '.join(EXECUTORS)}.")
