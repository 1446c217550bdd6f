"""Audit checkpoints in a folder outside the metadata store: one JSON line each, appended.

Appends of a short line with O_APPEND land whole and in order on a local file system, so
processes writing at once need no lock; a reader skips nothing and reports what it cannot parse.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError as PydanticError

from leanops.audit import Checkpoint
from leanops.errors import StoreUnavailable

FILE = "checkpoints.jsonl"


class FolderAnchor:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.location = str(self.folder / FILE)

    def write(self, checkpoint: Checkpoint) -> None:
        line = (checkpoint.model_dump_json() + "\n").encode()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.location, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreUnavailable(
                f"Cannot write the audit checkpoint to {self.location}: {exc.strerror}.",
                hint="Check that audit.anchor points at a writable folder.",
            ) from None

    def read(self) -> list[Checkpoint | str]:
        try:
            text = Path(self.location).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out: list[Checkpoint | str] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                out.append(Checkpoint.model_validate_json(line))
            except PydanticError:
                out.append(line)
        return out
