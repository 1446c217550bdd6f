"""The version a server answers with, swapped atomically when its zone's alias moves.

A request reads `live.state` once and uses that state to the end, so a swap (promote or
rollback, from anywhere) never fails an in-flight request: the new version is loaded and
verified in the background, then one assignment makes it current. A version that may not
serve (no approval, bytes changed) is refused and the current one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from leanops.errors import LeanopsError
from leanops.serving.models import Deployment
from leanops.serving.predictor import Predictor
from leanops.serving.service import ServingService
from leanops.zones import Zone

log = logging.getLogger(__name__)


@dataclass
class State:
    predictor: Predictor
    deployment: Deployment
    requests: int = 0
    errors: int = 0


@dataclass
class LiveModel:
    serving: ServingService
    name: str
    zone: Zone
    endpoint: str
    trusted: tuple[str, ...] = ()
    state: State = field(init=False)
    swaps: int = field(default=0, init=False)
    last_error: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        predictor = self.serving.load(self.name, self.zone, trusted=self.trusted)
        self.state = State(predictor, self.serving.start(predictor.version, self.zone, self.endpoint))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap_lock = threading.Lock()

    @property
    def version(self) -> int:
        return self.state.predictor.number

    def refresh(self) -> bool:
        """Swap to the version the alias names now, if it differs and may serve; True if swapped."""
        with self._swap_lock:
            wanted = self.serving.current_version(self.name, self.zone)
            old = self.state
            if wanted is None or wanted == old.predictor.number:
                return False
            try:
                predictor = self.serving.load(self.name, self.zone, trusted=self.trusted)
                deployment = self.serving.start(predictor.version, self.zone, self.endpoint)
            except LeanopsError as exc:
                self.last_error = f"v{wanted} not loaded: {exc}"
                log.error("%s@%s: keeps serving v%s; %s", self.name, self.zone, old.predictor.number, self.last_error)
                return False
            self.state = State(predictor, deployment)  # the swap: one assignment
            self.swaps += 1
            self.last_error = None
            self.serving.stop(
                old.deployment, reason=f"swapped to v{predictor.number}", requests=old.requests, errors=old.errors
            )
            return True

    def meter(self) -> None:
        state = self.state
        state.deployment = self.serving.meter(state.deployment, requests=state.requests, errors=state.errors)

    def watch(self, poll_seconds: float, meter_seconds: float) -> None:
        """Poll the alias and meter uptime in a background thread until `close`."""
        self._thread = threading.Thread(
            target=self._loop, args=(poll_seconds, meter_seconds), name="leanops-alias-watch", daemon=True
        )
        self._thread.start()

    def _loop(self, poll_seconds: float, meter_seconds: float) -> None:
        metered = time.monotonic()
        while not self._stop.wait(poll_seconds):
            try:
                self.refresh()
                if time.monotonic() - metered >= meter_seconds:
                    self.meter()
                    metered = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not stop the watcher
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s@%s: alias check failed: %s", self.name, self.zone, self.last_error)

    def close(self, reason: str = "server stopped") -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        state = self.state
        self.serving.stop(state.deployment, reason=reason, requests=state.requests, errors=state.errors)
