"""The Ray executor: each attempt is a Ray actor that runs the entrypoint as a subprocess.

The actor does on its worker exactly what the local executor does on this machine (a process
group of its own, SIGTERM → grace → SIGKILL, rusage metering), so deadline, retries, teardown
and metering mean the same on both. Ray schedules the actor with the job's declared CPUs and
GPUs. The scratch root must be a path every node sees (a shared file system) for checkpoints
and logs to survive a move between nodes; on one machine nothing is needed.

`ray` is imported lazily: it is the optional extra `pip install 'leanops[ray]'`.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from leanops.errors import ConfigError
from leanops.jobs.models import ExitInfo, Launch

_ACTOR: Any = None


class _AttemptActor:
    """Lives on a Ray worker for one attempt; wraps a local process handle there."""

    def __init__(self) -> None:
        self.handle: Any = None

    def start(self, launch: Launch) -> int | None:
        from leanops.adapters.executors.local import LocalExecutor

        self.handle = LocalExecutor().submit(launch)
        return self.handle.pid

    def wait(self, timeout: float) -> ExitInfo | None:
        return self.handle.wait(timeout)

    def terminate(self, grace: float) -> ExitInfo:
        return self.handle.terminate(grace)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "The ray executor needs Ray, which is not installed.",
            hint="pip install 'leanops[ray]', or set jobs.executor: local.",
        ) from None
    return ray


class RayExecutor:
    """Runs attempts on a Ray cluster (`address`), or on a local Ray instance when none is set."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def _connect(self) -> Any:
        global _ACTOR
        ray = _ray()
        if not ray.is_initialized():
            ray.init(
                address=self.address or None, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True
            )
        if _ACTOR is None:
            # Threaded, so `terminate` is served while a `wait` blocks.
            _ACTOR = ray.remote(max_concurrency=4, max_restarts=0)(_AttemptActor)
        return ray

    def submit(self, launch: Launch) -> RayHandle:
        ray = self._connect()
        actor = _ACTOR.options(num_cpus=launch.cpu, num_gpus=launch.gpu).remote()
        handle = RayHandle(ray, actor)
        try:
            ray.get(actor.start.remote(launch))
        except Exception as exc:  # noqa: BLE001 - the scheduler or worker failed: report, don't raise
            handle.fail(ExitInfo(error=f"Ray could not start the attempt: {exc}", lost=True))
        return handle


class RayHandle:
    def __init__(self, ray: Any, actor: Any) -> None:
        self.ray = ray
        self.actor = actor
        self._exit: ExitInfo | None = None

    def fail(self, exit: ExitInfo) -> None:
        self._done(exit)

    def poll(self) -> ExitInfo | None:
        return self.wait(0.0)

    def wait(self, timeout: float) -> ExitInfo | None:
        if self._exit is None:
            self._call(lambda: self.actor.wait.remote(timeout))
        return self._exit

    def terminate(self, grace: float) -> ExitInfo:
        if self._exit is None:
            self._call(lambda: self.actor.terminate.remote(grace))
        assert self._exit is not None
        return self._exit

    def _call(self, remote: Any) -> None:
        try:
            exit = self.ray.get(remote())
        except self.ray.exceptions.RayActorError as exc:
            exit = ExitInfo(error=f"the Ray worker running the attempt died: {exc}", lost=True)
        if exit is not None:
            self._done(exit)

    def _done(self, exit: ExitInfo) -> None:
        self._exit = exit
        with suppress(Exception):  # already gone is fine
            self.ray.kill(self.actor)
