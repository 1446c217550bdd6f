"""Scratch space: a folder per attempt, a checkpoint folder per job, and the cleanup of both.

    <scratch_root>/<job_id>/runner.json        who runs the job (host, pid)
    <scratch_root>/<job_id>/checkpoint/        survives the job's retries, removed when it ends
    <scratch_root>/<job_id>/attempt-<n>/       removed when the attempt ends, whatever the outcome
        attempt.json  attempt.log  outcome.json  outputs/

A runner that dies (SIGKILL, power loss) cannot clean up after itself; `runner.json` lets the
next start on the same host recognise the folder as abandoned, kill what is left of the
attempt's process group, and remove it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from leanops.process import pid_alive

RUNNER_FILE = "runner.json"
ATTEMPT_FILE = "attempt.json"
CHECKPOINT = "checkpoint"
OUTPUTS = "outputs"


@dataclass(frozen=True)
class AttemptDirs:
    root: Path
    log: Path
    outcome: Path
    outputs: Path


class Scratch:
    """The scratch layout under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def checkpoint(self, job_id: str) -> Path:
        return self.job_dir(job_id) / CHECKPOINT

    def claim(self, job_id: str) -> Path:
        """Create the job's folder and checkpoint folder, marked as run by this process."""
        folder = self.job_dir(job_id)
        self.checkpoint(job_id).mkdir(parents=True, exist_ok=True)
        _write_json(folder / RUNNER_FILE, {"job_id": job_id, "host": socket.gethostname(), "pid": os.getpid()})
        return folder

    def attempt(self, job_id: str, n: int) -> AttemptDirs:
        folder = self.job_dir(job_id) / f"attempt-{n}"
        (folder / OUTPUTS).mkdir(parents=True, exist_ok=True)
        return AttemptDirs(
            root=folder, log=folder / "attempt.log", outcome=folder / "outcome.json", outputs=folder / OUTPUTS
        )

    def note_process(self, dirs: AttemptDirs, pid: int | None) -> None:
        """Remember the attempt's process group, so a dead runner's leftovers can be killed."""
        if pid:
            _write_json(dirs.root / ATTEMPT_FILE, {"pgid": pid})

    def remove_attempt(self, dirs: AttemptDirs) -> None:
        remove_tree(dirs.root)

    def release(self, job_id: str) -> None:
        """Remove the job's folder: checkpoints, any attempt left, the runner mark."""
        remove_tree(self.job_dir(job_id))

    def abandoned(self) -> list[tuple[str, Path]]:
        """(job id, folder) of every job folder whose runner on this host is gone."""
        if not self.root.is_dir():
            return []
        host = socket.gethostname()
        found = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            mark = _read_json(folder / RUNNER_FILE)
            if mark is None:
                # A folder without a runner mark is a half-made claim, or not ours to judge.
                continue
            if mark.get("host") == host and not pid_alive(int(mark.get("pid") or 0)):
                found.append((str(mark.get("job_id") or folder.name), folder))
        return found

    def kill_leftovers(self, folder: Path, job_id: str) -> int:
        """SIGKILL the process groups of attempts under a dead runner's folder; return how many."""
        killed = 0
        for mark in folder.glob(f"attempt-*/{ATTEMPT_FILE}"):
            pgid = int((_read_json(mark) or {}).get("pgid") or 0)
            if pgid and _runs_job(pgid, job_id):
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                    killed += 1
        return killed


def folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        with suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _runs_job(pid: int, job_id: str) -> bool:
    """Whether `pid` is still this job's process (and not a reused pid): its environment says so."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False  # gone, or no /proc to prove it is ours: leave it alone
    return f"LEANOPS_JOB_ID={job_id}".encode() in environ.split(b"\0")


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_outcome(path: Path) -> dict[str, object]:
    return _read_json(path) or {}
