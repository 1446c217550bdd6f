"""The local executor: each attempt is a subprocess in a process group of its own.

Its own session means one `killpg` reaches everything the job started (data loader workers,
shell pipelines), and a Ctrl-C at the terminal reaches the runner, which then tears the job
down on purpose instead of leaving it orphaned. The process is reaped with `os.wait4`, whose
rusage gives the CPU seconds. Peak memory is sampled from /proc (VmHWM) instead: on Linux a
child's ru_maxrss starts from its parent's size at fork, so it would report the runner's own
memory for a job that used a few megabytes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress

from leanops.jobs.bootstrap import __file__ as BOOTSTRAP
from leanops.jobs.models import ExitInfo, Launch
from leanops.process import peak_rss

# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024
_PROC_STATUS = os.path.exists("/proc/self/status")
SAMPLE_SECONDS = 0.5


class LocalExecutor:
    """Runs attempts as local processes."""

    name = "local"

    def submit(self, launch: Launch) -> LocalHandle:
        argv = [sys.executable, BOOTSTRAP, *launch.argv] if launch.bootstrap else list(launch.argv)
        started = time.monotonic()
        try:
            with open(launch.log_path, "ab", buffering=0) as log:
                # With secrets to mask, output passes through a pipe so the file never holds them.
                proc = subprocess.Popen(  # noqa: S603 - the argv comes from a reviewed spec
                    argv,
                    cwd=launch.cwd,
                    env=launch.env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if launch.mask else log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            return LocalHandle(None, started, error=f"could not start {argv[0]!r}: {exc.strerror or exc}")
        copier = None
        if launch.mask:
            copier = threading.Thread(
                target=_copy_masked,
                args=(proc, launch.log_path, launch.mask),
                name=f"leanops-log-{proc.pid}",
                daemon=True,
            )
            copier.start()
        return LocalHandle(proc, started, copier=copier)


class LocalHandle:
    """One running attempt; a waiter thread reaps it the moment it exits."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes] | None,
        started: float,
        *,
        error: str = "",
        copier: threading.Thread | None = None,
    ) -> None:
        self.proc = proc
        self.copier = copier
        self.started = started
        self.host = socket.gethostname()
        self._done = threading.Event()
        self._exit: ExitInfo | None = None
        self._peak = 0
        if proc is None:
            self._finish(ExitInfo(error=error, returncode=None, host=self.host))
        else:
            threading.Thread(target=self._reap, name=f"leanops-reap-{proc.pid}", daemon=True).start()
            if _PROC_STATUS:
                threading.Thread(target=self._sample, name=f"leanops-rss-{proc.pid}", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def poll(self) -> ExitInfo | None:
        return self._exit if self._done.is_set() else None

    def wait(self, timeout: float) -> ExitInfo | None:
        self._done.wait(timeout)
        return self.poll()

    def terminate(self, grace: float) -> ExitInfo:
        """SIGTERM the whole group, give it `grace` seconds (to save a checkpoint), then SIGKILL."""
        if not self._done.is_set():
            self._signal(signal.SIGTERM)
            if not self._done.wait(max(grace, 0.0)):
                self._signal(signal.SIGKILL)
        self._done.wait()
        assert self._exit is not None
        return self._exit

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _sample(self) -> None:
        """Track the process's high-water resident memory while it runs."""
        assert self.proc is not None
        delay = 0.05
        while not self._done.wait(delay):
            self._peak = max(self._peak, peak_rss(self.proc.pid))
            delay = min(delay * 2, SAMPLE_SECONDS)

    def _reap(self) -> None:
        assert self.proc is not None
        pid = self.proc.pid
        while True:
            try:
                _, status, usage = os.wait4(pid, 0)
                break
            except ChildProcessError:  # reaped elsewhere: no rusage, but the end is known
                status, usage = 0, None
                break
            except InterruptedError:
                continue
        wall = time.monotonic() - self.started
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        # Teardown: whatever the attempt left running in its group goes with it.
        self._signal(signal.SIGKILL)
        if self.copier is not None:
            self.copier.join(timeout=10)
        code = self.proc.returncode
        self._finish(
            ExitInfo(
                returncode=code if code >= 0 else None,
                signal=-code if code < 0 else None,
                wall_seconds=wall,
                cpu_seconds=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
                peak_rss_bytes=self._peak if _PROC_STATUS else int(usage.ru_maxrss * _RSS_UNIT) if usage else 0,
                host=self.host,
            )
        )

    def _finish(self, exit: ExitInfo) -> None:
        self._exit = exit
        self._done.set()


def _copy_masked(proc: subprocess.Popen[bytes], log_path: str, mask: tuple[str, ...]) -> None:
    """Copy the attempt's output to its log line by line, each secret value replaced by ***."""
    values = [m.encode() for m in sorted(mask, key=len, reverse=True) if m]
    assert proc.stdout is not None
    with proc.stdout, open(log_path, "ab", buffering=0) as log:
        for line in iter(proc.stdout.readline, b""):
            for value in values:
                line = line.replace(value, b"***")
            log.write(line)
