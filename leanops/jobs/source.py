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
    spec_commit: str | None = None  # the commit the spec was run from (HEAD, when it is committed and unchanged)
    dirty: bool | None = None  # None: not a git repository
    problems: list[str] = []  # why it is dirty, for the refusal message

    @property
    def versioned(self) -> bool:
        return self.commit is not None


def source_version(root: Path, spec_path: Path, code_files: list[Path] = ()) -> SourceVersion:  # type: ignore[assignment]
    """Commits and cleanliness of the repository at `root`, the spec and the code files."""
    return probe_source(root, spec_path, code_files).result()


class SourceProbe:
    """One `git status` started in the background: it sits on the submit → start path, so the
    caller does its other checks while it runs and collects it last. Porcelain v2 gives HEAD,
    modified tracked files and untracked or ignored paths in one process."""

    def __init__(self, root: Path, spec_path: Path, code_files: list[Path]) -> None:
        self.root = root
        self.files = [spec_path, *code_files]
        self.procs = _start(
            root, [("status", "--porcelain=v2", "--branch", "--untracked-files=normal", "--ignored=matching")]
        )

    def result(self) -> SourceVersion:
        out = _collect(self.procs)[0]
        if out is None:
            return SourceVersion()
        commit, modified, outside = None, [], []
        for line in out.splitlines():
            if line.startswith("# branch.oid "):
                commit = line.split()[2]
            elif line.startswith(("1 ", "2 ", "u ")):
                # "1 XY sub mH mI mW hH hI path" (2: "… score path<TAB>orig"; u: unmerged)
                fields = line.split(" ", {"1": 8, "2": 9, "u": 10}[line[0]])
                modified.append(fields[-1].split("\t")[0])
            elif line.startswith(("? ", "! ")):
                outside.append(line[2:])
        if commit is None or commit == "(initial)":
            return SourceVersion()
        problems: list[str] = []
        if modified:
            problems.append("uncommitted changes to " + ", ".join(modified[:5]) + (" …" if len(modified) > 5 else ""))
        top = _toplevel(self.root)
        for path in self.files:
            rel = _rel(path, top)
            if any(rel == o.rstrip("/") or (o.endswith("/") and rel.startswith(o)) for o in outside):
                problems.append(f"{rel} is not committed")
        # The spec as run is the one at HEAD whenever the tree is clean.
        return SourceVersion(
            commit=commit, spec_commit=commit if not problems else None, dirty=bool(problems), problems=problems
        )


def probe_source(root: Path, spec_path: Path, code_files: list[Path] = ()) -> SourceProbe:  # type: ignore[assignment]
    return SourceProbe(root, spec_path, list(code_files))


def _toplevel(root: Path) -> Path:
    """The repository's top folder (porcelain paths are relative to it), found without git."""
    for folder in (root.resolve(), *root.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return root


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _start(cwd: Path, commands: list[tuple[str, ...]]) -> list[subprocess.Popen[str] | None]:
    procs: list[subprocess.Popen[str] | None] = []
    for args in commands:
        try:
            procs.append(
                subprocess.Popen(
                    ["git", *args],
                    cwd=cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL,
                    text=True,
                )
            )
        except OSError:
            procs.append(None)
    return procs


def _collect(procs: list[subprocess.Popen[str] | None]) -> list[str | None]:
    """Each command's stdout, or None if it failed."""
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
