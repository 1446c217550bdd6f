"""Operating-system processes: liveness and cost for runs and jobs, and what a child may see.

A job or a test command used to inherit the whole environment of whoever started it: cloud
keys, other API tokens, the database URL. `allowed_environment` builds a child's environment
from an allow-list instead: a small base a process needs to start, the leanops variables set on
purpose (a short-lived token scoped to the job, the stores), the values a spec sets, the
variables it names to pass through, and its declared secrets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (one we may not signal counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def peak_rss(pid: int | str = "self") -> int:
    """A process's high-water resident memory (VmHWM) in bytes; 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# -- what a child process may see ----------------------------------------------------------

# Enough for an interpreter and common tools to start; nothing that grants access.
BASE_VARIABLES = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "USER",
    "LOGNAME",
    "SHELL",
    "VIRTUAL_ENV",
    "SYSTEMROOT",
)


def allowed_environment(
    parent: Mapping[str, str],
    *,
    leanops: Mapping[str, str],
    spec_env: Mapping[str, str] = {},
    passthrough: Iterable[str] = (),
    secrets: Mapping[str, str] = {},
) -> dict[str, str]:
    """The environment of one attempt, built from an allow-list rather than filtered from all.

    allowed_environment(os.environ, leanops={"LEANOPS_TOKEN": t}, passthrough=["AWS_PROFILE"])
    """
    env = {k: parent[k] for k in BASE_VARIABLES if k in parent}
    env |= {k: parent[k] for k in passthrough if k in parent}
    env |= dict(spec_env)
    env |= dict(leanops)
    env |= dict(secrets)
    return env
