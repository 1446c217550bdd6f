"""Job test fixtures: a project holding tiny entrypoints, specs written on demand, and a Ray
instance started once per session for the executor-parameterised suite."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from leanops.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
FAST_RETRY = {"max_attempts": 3, "backoff": {"initial": 0.05, "max": 0.1, "jitter": 0.05}}


@pytest.fixture(params=["local", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.xdist_group("ray")])])
def executor(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on the local executor and on Ray, with the same assertions."""
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


@pytest.fixture
def jobs_env(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fast settings for job tests: short grace and polls, alerts to a file in the project."""
    shutil.copy(FIXTURES / "entrypoints.py", project / "entrypoints.py")
    monkeypatch.setenv("LEANOPS_JOBS__GRACE_SECONDS", "0.5")
    monkeypatch.setenv("LEANOPS_JOBS__POLL_SECONDS", "0.1")
    monkeypatch.setenv("LEANOPS_JOBS__GC_GRACE", "1ms")
    monkeypatch.setenv("LEANOPS_JOBS__SECRETS_FILE", str(project.parent / "secrets.env"))
    monkeypatch.setenv("LEANOPS_NOTIFY__SINKS", '["file:notices.log"]')
    return project


@pytest.fixture
def jws(jobs_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A workspace on SQLite with the real Cedar engine; alice is admin."""
    monkeypatch.setenv("LEANOPS_STORE__URL", f"sqlite:///{jobs_env.parent / 'meta.db'}")
    workspace = Workspace.from_config(jobs_env)
    workspace.bootstrap()
    yield workspace
    workspace.close()


@pytest.fixture
def spec(jobs_env: Path) -> Callable[..., Path]:
    """Write jobs/<name>.yaml from keyword fields over sensible test defaults; return its path."""

    def write(name: str = "job", **fields: Any) -> Path:
        body: dict[str, Any] = {
            "name": name,
            "entrypoint": "entrypoints:ok",
            "owner": "alice",
            "deadline": 20,
            "retry": FAST_RETRY,
        }
        body |= fields
        path = jobs_env / "jobs" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(body, sort_keys=False))
        return path

    return write


def notices(project: Path) -> list[str]:
    path = project / "notices.log"
    return path.read_text().splitlines() if path.exists() else []
