"""Why an attempt ended, and whether another attempt could help — pure rules, no I/O.

A transient failure (a dropped connection, a pre-empted node, exit code 75 "try again") is
worth a retry; a bug is not, and retrying it only burns the deadline and the budget. The
executor reports what happened (`ExitInfo`); `classify` turns that into a `Cause`.
"""

from __future__ import annotations

import signal
from enum import StrEnum

from leanops.jobs.models import ExitInfo
from leanops.jobs.spec import RetryPolicy


class Cause(StrEnum):
    SUCCEEDED = "succeeded"
    TRANSIENT = "transient"  # retried while attempts and deadline remain
    FAILED = "failed"  # fails fast
    TIMED_OUT = "timed_out"  # the job's deadline stopped it
    CANCELLED = "cancelled"  # someone cancelled it


def classify(exit: ExitInfo, policy: RetryPolicy) -> Cause:
    """The cause of an attempt's end under the job's retry policy."""
    if exit.stopped_for == "deadline":
        return Cause.TIMED_OUT
    if exit.stopped_for == "cancel":
        return Cause.CANCELLED
    if exit.returncode == 0 and exit.signal is None and not exit.error:
        return Cause.SUCCEEDED
    if policy.retry_on == "never":
        return Cause.FAILED
    if policy.retry_on == "any" or is_transient(exit, policy):
        return Cause.TRANSIENT
    return Cause.FAILED


def is_transient(exit: ExitInfo, policy: RetryPolicy) -> bool:
    if exit.lost:
        return True  # the worker or node went away under the job: pre-emption, not a bug
    if exit.exception:
        # A python entrypoint's exception decides, whatever exit code its wrapper used.
        names = {exit.exception, *exit.exception_bases}
        return bool(names & set(policy.transient_exceptions))
    return exit.returncode is not None and exit.returncode in policy.transient_exit_codes


def describe(exit: ExitInfo) -> str:
    """One line for people: 'exit 75', 'ConnectionError: refused', 'killed by SIGKILL'."""
    if exit.stopped_for == "deadline":
        return "stopped at the deadline"
    if exit.stopped_for == "cancel":
        return "cancelled"
    if exit.exception:
        return f"{exit.exception}: {exit.message}".rstrip(": ")
    if exit.signal is not None:
        try:
            name = signal.Signals(exit.signal).name
        except ValueError:
            name = str(exit.signal)
        return f"killed by {name}"
    if exit.error:
        return exit.error
    return f"exit {exit.returncode}"
