"""What a run captures about where it ran: the code version (git) and the Python environment.

Both are best effort: without git, or outside a repository, the code fields stay empty and
the run reports them missing instead of failing.
"""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from leanops.runs.models import CodeVersion

_USERINFO = re.compile(r"(://)[^/@\s]+@")
GIT_TIMEOUT = 5.0


def code_version(folder: Path | None = None) -> CodeVersion:
    """The commit checked out at `folder` (default: the working directory), whether the tree
    has uncommitted changes, and the remote URL with any credentials removed."""
    cwd = folder or Path.cwd()
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return CodeVersion()
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    remote = _git(cwd, "remote", "get-url", "origin")
    if remote is None:
        first = (_git(cwd, "remote") or "").split()
        remote = _git(cwd, "remote", "get-url", first[0]) if first else None
    return CodeVersion(
        commit=commit,
        dirty=None if status is None else bool(status.strip()),
        remote=_USERINFO.sub(r"\1", remote) if remote else None,
    )


def committed_file(path: Path) -> tuple[str, bytes] | None:
    """`path` as committed at HEAD: (commit, its bytes); None outside git or when untracked.

    Reads the commit's blob, not the working file, so what is judged is what others can see."""
    folder = path.resolve().parent
    top, commit = _git(folder, "rev-parse", "--show-toplevel"), _git(folder, "rev-parse", "HEAD")
    if top is None or commit is None:
        return None
    rel = path.resolve().relative_to(Path(top).resolve()).as_posix()
    try:
        done = subprocess.run(
            ["git", "show", f"{commit}:{rel}"], cwd=folder, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit, done.stdout) if done.returncode == 0 else None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def installed_packages() -> tuple[str, ...]:
    """'name==version' for every installed distribution, sorted; read once per process."""
    found = {
        f"{(dist.metadata['Name'] or '').lower()}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    return tuple(sorted(found))


def packages_text() -> bytes:
    return ("\n".join(installed_packages()) + "\n").encode()


def packages_hash(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def python_version() -> str:
    return sys.version.split()[0]


def platform_name() -> str:
    return platform.platform()
