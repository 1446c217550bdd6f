"""The live run handle: logging costs an append; points reach the store in batches.

`log_metric` validates cheaply and appends a tuple to a deque. A batch is written in one
transaction (one executemany INSERT, one audit record) when `flush_size` points wait, when
the timer thread finds points older than `flush_interval_seconds`, and on `end()`,
`__exit__` and interpreter exit. A process killed outright loses only what it had not
flushed; the next reader marks its run `killed`.

Who writes: while the training loop is logging, the logging thread itself writes the batch
on its next call (the timer only asks for it). A second thread inserting while the loop
runs would trade the GIL with it on every row the driver steps, which costs several times
the insert itself. The timer thread writes on its own only when the loop has gone quiet.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from leanops.errors import Conflict, LeanopsError, PolicyDenied, ValidationError
from leanops.runs.models import (
    MetricPoint,
    ParamRow,
    RunRecord,
    RunStatus,
    check_key,
    flagged_value,
    param_row,
    tag_value,
)

if TYPE_CHECKING:
    from leanops.runs.service import RunService

# How long the timer waits for the logging thread to take up a requested flush before it
# writes the batch itself (the loop is then idle, e.g. inside a long evaluation step).
IDLE_GRACE_SECONDS = 0.25

_OPEN: dict[str, Run] = {}
_OPEN_LOCK = threading.Lock()
_uncaught: list[BaseException] = []


def is_open_here(run_id: str) -> bool:
    """Whether this process holds the run open (a run of our own pid that we do not hold is dead)."""
    return run_id in _OPEN


def open_runs() -> list[Run]:
    with _OPEN_LOCK:
        return list(_OPEN.values())


def active_run() -> Run | None:
    """The most recently started run of this process that is still open."""
    with _OPEN_LOCK:
        return next(reversed(_OPEN.values()), None)


class Run:
    """A run being tracked. Use it as a context manager, or call `end()`.

    with ws.runs.start("tune lr", datasets=["customers"]) as run:
        run.log_params({"lr": 0.01})
        for step, loss in enumerate(losses):
            run.log_metric("loss", loss, step=step)
    """

    def __init__(self, service: RunService, record: RunRecord, *, on_end: Callable[[], None] | None = None) -> None:
        self.id = record.id
        self.record = record
        self._service = service
        self._on_end = on_end
        settings = service.settings
        self._flush_size = settings.flush_size
        self._interval = settings.flush_interval_seconds
        self._heartbeat = settings.heartbeat_seconds
        self._points: deque[MetricPoint] = deque()
        self._params: deque[ParamRow] = deque()
        self._tags: dict[str, str] = {}
        self._steps: dict[str, int] = {}
        self._names: set[str] = set()
        self._blocked = False  # ended, or the timer has an error to report: the hot path checks one flag
        self._limit = self._flush_size  # the hot path flushes at this many points; the timer lowers it to 1
        self._ended = False
        self._error: BaseException | None = None
        self._flush_lock = threading.Lock()
        self._tags_lock = threading.Lock()
        self._stop = threading.Event()
        self._last_write = time.monotonic()
        self._seq = 0  # points written so far: numbers the next batch
        with _OPEN_LOCK:
            _OPEN[self.id] = self
        _install_exit_hooks()
        self._thread = threading.Thread(target=self._loop, name=f"leanops-run-{self.id[:8]}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, status={self.status!s})"

    @property
    def status(self) -> RunStatus:
        return self.record.status

    # -- logging ----------------------------------------------------------------------------

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record one point; NaN and ±inf are kept and flagged. Costs a few microseconds."""
        if self._blocked:
            self._raise_blocked()
        try:
            known = name in self._names
        except TypeError:  # an unhashable name is no name
            known = False
        if not known:
            self._names.add(check_key(name, "Metric"))
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"Metric {name!r} got {value!r}, which is not a number.") from None
        if step is None:
            step = self._steps.get(name, -1) + 1
        elif type(step) is not int:
            step = _as_step(step)
        self._steps[name] = step
        if v - v == 0.0:
            self._points.append((name, step, v, time.time(), None))
        else:
            self._points.append((name, step, None, time.time(), "nan" if v != v else ("inf" if v > 0 else "-inf")))
        if len(self._points) >= self._limit:
            self._flush_inline()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters; a param is written once and never changes (`Conflict` if it would)."""
        self._check_open()
        rows = [param_row(k, v) for k, v in params.items()]
        for key, text, _ in rows:
            known = self.record.params.get(key)
            if known is not None and known != text:
                raise Conflict(
                    f"Param {key!r} is already {known!r} in run {self.id}; params never change.",
                    hint="Log the new value under another name, or start a new run.",
                )
        for row in rows:
            if row[0] not in self.record.params:
                self.record.params[row[0]] = row[1]
                self._params.append(row)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._check_open()
        rows = dict(tag_value(k, v) for k, v in tags.items())
        with self._tags_lock:
            self._tags.update(rows)
        self.record.tags.update(rows)

    def log_artifact(self, path: str | Path, name: str | None = None) -> list[str]:
        """Store a file or folder content-addressed under the run; returns the recorded names."""
        self._check_open()
        return self._service.log_artifact(self.record, Path(path), name)

    def log_model(self, model: Any, name: str = "model", *, input_example: Any = None) -> list[str]:
        """Save a model by flavor (skops for scikit-learn) with a signature inferred from `input_example`."""
        self._check_open()
        return self._service.log_model(self.record, model, name, input_example=input_example)

    # -- flushing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered now, in one transaction (nothing if nothing waits)."""
        with self._flush_lock:
            self._write()

    def _write(self) -> None:
        points = [self._points.popleft() for _ in range(len(self._points))]
        params = [self._params.popleft() for _ in range(len(self._params))]
        with self._tags_lock:
            tags, self._tags = self._tags, {}
        beat_due = time.monotonic() - self._last_write >= self._heartbeat
        if not (points or params or tags or beat_due):
            return
        try:
            latest = self._service.write_batch(self.record, points, params, tags, self._seq)
        except PolicyDenied:
            raise  # a refusal will not change on retry: those points are dropped, the error is reported
        except BaseException:
            self._points.extendleft(reversed(points))
            self._params.extendleft(reversed(params))
            with self._tags_lock:
                self._tags = tags | self._tags
            raise
        self._last_write = time.monotonic()
        self._seq += len(points)
        for key, point in latest.items():
            self.record.metrics[key] = flagged_value(point[2], point[4])

    def _flush_inline(self) -> None:
        self._limit = self._flush_size
        with self._flush_lock:
            self._write()

    def _pending(self) -> bool:
        return bool(self._points or self._params or self._tags)

    def _loop(self) -> None:
        """Every interval: ask the logging thread to flush; write it here if nobody does."""
        while not self._stop.wait(min(self._interval, self._heartbeat)):
            if self._pending():
                self._limit = 1
                if self._stop.wait(IDLE_GRACE_SECONDS):
                    return
            if not self._pending() and time.monotonic() - self._last_write < self._heartbeat:
                continue
            try:
                with self._flush_lock:
                    self._limit = self._flush_size
                    self._write()
            except BaseException as exc:  # noqa: BLE001 - reported on the next call instead
                self._error, self._blocked = exc, True

    # -- ending -----------------------------------------------------------------------------

    def end(self, outcome: Literal["ok", "failed", "killed"] = "ok") -> RunStatus:
        """Flush, then close the run: `finished`, or `incomplete` if a required field is missing."""
        if self._ended:
            return self.record.status
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self.flush()
            status = self._service.finish(self.record, outcome)
        finally:
            self._ended = self._blocked = True
            self._error = None
            with _OPEN_LOCK:
                _OPEN.pop(self.id, None)
            if self._on_end:
                self._on_end()
        return status

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end("ok")
        else:
            self.end("killed" if issubclass(exc_type, KeyboardInterrupt) else "failed")

    def _check_open(self) -> None:
        if self._blocked:
            self._raise_blocked()

    def _raise_blocked(self) -> None:
        if self._ended:
            raise Conflict(
                f"Run {self.id} has ended ({self.record.status}); nothing more can be logged to it.",
                hint="Start a new run with leanops.start_run(...).",
            )
        error, self._error, self._blocked = self._error, None, False
        if isinstance(error, LeanopsError):
            raise error
        if error is not None:
            raise RuntimeError(f"Writing run {self.id} to the store failed: {error}") from error


def _as_step(step: object) -> int:
    try:
        as_int = int(step)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValidationError(f"Step {step!r} is not an integer.") from None
    if as_int != step:
        raise ValidationError(f"Step {step!r} is not an integer.")
    return as_int


_hooks_installed = False


def _install_exit_hooks() -> None:
    """Once per process: end open runs at interpreter exit, `failed` after an uncaught exception."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _uncaught.append(exc)
        previous(kind, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_end_all)


def _end_all() -> None:
    outcome: Literal["ok", "failed"] = "failed" if _uncaught else "ok"
    for run in open_runs():
        try:
            run.end(outcome)
        except Exception as exc:  # noqa: BLE001 - at exit there is no caller left to raise to
            print(f"leanops: could not close run {run.id}: {exc}", file=sys.stderr)
