"""From a path on disk to a content hash and a table.

A file's snapshot id is the sha256 of its bytes. A folder's is the sha256 of its manifest:
one `<sha256>  <relative path>` line per file, sorted by path (the format `sha256sum -c`
reads), so renaming, adding or changing any file changes the id and nothing else does.
Hidden files and folders (names starting with '.') are not part of a snapshot.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel

from leanops.datasets.snapshot import FileEntry
from leanops.errors import NotFound, ValidationError

CHUNK = 1 << 20
MANIFEST_NAME = ".manifest.sha256"
_FORMATS: tuple[tuple[str, Literal["csv", "parquet"]], ...] = (
    (".csv", "csv"),
    (".csv.gz", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
)

Format = Literal["csv", "parquet", "files"]


class Scan(BaseModel):
    """What registering `root` would store, before anything is stored."""

    root: Path
    kind: Literal["file", "folder"]
    format: Format
    files: list[FileEntry]
    id: str
    manifest: bytes | None = None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def path(self, entry: FileEntry) -> Path:
        return self.root / entry.path if self.kind == "folder" else self.root

    def data_files(self) -> list[Path]:
        """The files that make up the table, in manifest order."""
        return [self.path(f) for f in self.files if table_format(f.path)]


def table_format(name: str) -> Literal["csv", "parquet"] | None:
    """The tabular format a file name says, if any; `_`-prefixed markers (`_SUCCESS`) never are."""
    base = name.rsplit("/", 1)[-1].lower()
    if base.startswith("_"):
        return None
    return next((fmt for suffix, fmt in _FORMATS if base.endswith(suffix)), None)


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def manifest_bytes(files: list[FileEntry]) -> bytes:
    return "".join(f"{f.digest}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)).encode("utf-8")


def scan(path: Path) -> Scan:
    """Hash a file or a folder of files; read nothing into memory but one chunk at a time."""
    path = Path(path)
    if not path.exists():
        raise NotFound(
            f"No file or folder at {path}.", hint="Check the path; relative paths start at the working directory."
        )
    root = path.resolve()
    if root.is_file():
        fmt = table_format(root.name)
        if fmt is None:
            raise ValidationError(
                f"{path} is neither CSV nor Parquet.",
                hint="Register .csv, .csv.gz, .parquet or .pq files, or a folder of files.",
            )
        entry = FileEntry(path=root.name, digest=_hash(root), size=root.stat().st_size)
        return Scan(root=root, kind="file", format=fmt, files=[entry], id=entry.digest)
    files = [FileEntry(path=rel, digest=_hash(root / rel), size=(root / rel).stat().st_size) for rel in _walk(root)]
    if not files:
        raise ValidationError(
            f"The folder {path} holds no files.", hint="Hidden files (.name) are not part of a snapshot."
        )
    manifest = manifest_bytes(files)
    return Scan(
        root=root,
        kind="folder",
        format=_folder_format(files),
        files=files,
        id=hashlib.sha256(manifest).hexdigest(),
        manifest=manifest,
    )


def _walk(root: Path) -> list[str]:
    out = []
    for item in root.rglob("*"):
        rel = item.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not item.is_file():
            continue
        text = rel.as_posix()
        if "\n" in text or "\r" in text:
            raise ValidationError(f"File name {text!r} holds a line break; rename it to register the folder.")
        out.append(text)
    return sorted(out)


def _folder_format(files: list[FileEntry]) -> Format:
    """A folder is one table when all its data files share one format and nothing else is there."""
    formats = {table_format(f.path) for f in files if not f.path.rsplit("/", 1)[-1].startswith("_")}
    return formats.pop() if len(formats) == 1 and None not in formats else "files"  # type: ignore[return-value]


def _hash(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", hint="Check the file's permissions.") from None


def read_table(paths: list[Path], fmt: Literal["csv", "parquet"], *, label: str) -> pd.DataFrame:
    """One table from one or more files of one format; parts must share their columns."""
    frames = []
    for path in paths:
        frame = _read(path, fmt, label)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise ValidationError(
                f"{label}: {path.name} has columns {list(frame.columns)}, "
                f"unlike {list(frames[0].columns)} in the first file.",
                hint="Every file of a tabular folder must have the same columns in the same order.",
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _read(path: Path, fmt: Literal["csv", "parquet"], label: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow raise many types for one cause: unreadable input
        where = label if path.name in label else f"{label} ({path.name})"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(
            f"Cannot read {where} as {fmt.upper()}: {reason}",
            hint=f"Check that the file is valid {fmt.upper()} (not truncated, not another format).",
            file=str(path),
            format=fmt,
        ) from None
