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
    """Commits and cleanliness of the repository at `root`, the spec and the code files.

    The git queries run side by side: this sits on the path from submit to start.
    """
    files = [str(p) for p in (spec_path, *code_files)]
    commit, modified, tracked, spec_commit = _git_all(root, [
        ("rev-parse", "HEAD"),
        ("status", "--porcelain", "--untracked-files=no"),
        ("ls-files", "--error-unmatch", *files),
        ("log", "-1", "--format=%H", "--", str(spec_path)),
    ])
    if commit is None:
        return SourceVersion()
    problems: list[str] = []
    if modified is None:
        problems.append("git status failed")
    elif modified.strip():
        changed = [line[3:] for line in modified.splitlines() if line.strip()]
        problems.append("uncommitted changes to " + ", ".join(changed[:5]) + (" …" if len(changed) > 5 else ""))
    if tracked is None:
        problems += [f"{_rel(Path(f), root)} is not committed" for f in files
                     if _git_all(root, [("ls-files", "--error-unmatch", f)])[0] is None]
    return SourceVersion(commit=commit.strip(), spec_commit=(spec_commit or "").strip() or None,
                         dirty=bool(problems), problems=problems)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _git_all(cwd: Path, commands: list[tuple[str, ...]]) -> list[str | None]:
    """Run git commands concurrently; each one's stdout, or None if it failed."""
    procs: list[subprocess.Popen[str] | None] = []
    for args in commands:
        try:
            procs.append(subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True))
        except OSError:
            procs.append(None)
    out: list[str | None] = []
    for proc in procs:
        if proc is None:
            out.append(None)
            continue
        try:
            stdout, _ = proc.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            out.append(None)
            continue
        out.append(stdout if proc.returncode == 0 else None)
    return out
