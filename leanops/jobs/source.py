"""Which commit a job runs: of its spec and of its code, and whether the tree is dirty.

A release-candidate job must be reproducible from version control alone, so in staging and
production a dirty tree is refused: a modified tracked file, or a spec or entrypoint module
that is not committed at all. Untracked data and scratch files elsewhere do not count.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import BaseModel

GIT_TIMEOUT = 5.0


class SourceVersion(BaseModel):
    commit: str | None = None  # HEAD of the repository holding the project
    spec_commit: str | None = None  # the last commit that touched the spec file
    dirty: bool | None = None  # None: not a git repository
    problems: list[str] = []  # why it is dirty, for the refusal message

    @property
    def versioned(self) -> bool:
        return self.commit is not None


def source_version(root: Path, spec_path: Path, code_files: list[Path] = ()) -> SourceVersion:  # type: ignore[assignment]
    """Commits and cleanliness of the repository at `root`, the spec and the code files."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return SourceVersion()
    problems: list[str] = []
    modified = _git(root, "status", "--porcelain", "--untracked-files=no", strip=False)
    if modified is None:
        problems.append("git status failed")
    elif modified.strip():
        files = [line[3:] for line in modified.splitlines() if line.strip()]
        problems.append("uncommitted changes to " + ", ".join(files[:5]) + (" …" if len(files) > 5 else ""))
    for path in (spec_path, *code_files):
        if _git(root, "ls-files", "--error-unmatch", str(path)) is None:
            problems.append(f"{_rel(path, root)} is not committed")
    spec_commit = _git(root, "log", "-1", "--format=%H", "--", str(spec_path)) or None
    return SourceVersion(commit=commit, spec_commit=spec_commit, dirty=bool(problems), problems=problems)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _git(cwd: Path, *args: str, strip: bool = True) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout
