"""What a dataset snapshot is, and the rules for naming, classifying and sourcing one.

A snapshot is identified by its content: the sha256 of its bytes (one file) or of a canonical
manifest of its files (a folder). A name gives the contents registered under it version
numbers; one content may carry several names and is stored once.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from leanops.datasets.contract import DataContract
from leanops.datasets.profile import DatasetProfile
from leanops.errors import Conflict, ValidationError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")
HEX = frozenset("0123456789abcdef")
MIN_PREFIX = 8


class DataClass(StrEnum):
    """How sensitive the data is; policies keep `sensitive` out of the sandbox."""

    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"


DEFAULT_CLASS = DataClass.INTERNAL


class FileEntry(BaseModel):
    """One stored file of a snapshot: its path inside the snapshot, digest and size."""

    path: str
    digest: str
    size: int


class Snapshot(BaseModel):
    """One registration (`name@vN`) of one content, with what is known about that content."""

    id: str = Field(description="Content hash: sha256 of the file, or of the folder's manifest")
    name: str
    version: int
    kind: Literal["file", "folder"]
    format: Literal["csv", "parquet", "files"]
    size: int = Field(description="Total bytes of the data files")
    rows: int | None = None
    files: list[FileEntry] = Field(default_factory=list)
    data_class: DataClass = DEFAULT_CLASS
    source: str
    contract: DataContract | None = None
    profile: DatasetProfile | None = None
    created_at: datetime
    created_by: str
    zone: str

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def tabular(self) -> bool:
        return self.format != "files"


def check_name(name: str) -> str:
    """Dataset names appear in `name@vN` refs and audit records: keep them plain."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationError(
            f"{name!r} is not a valid dataset name.",
            hint="Use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def parse_data_class(value: DataClass | str) -> DataClass:
    try:
        return DataClass(str(value).lower())
    except ValueError:
        raise ValidationError(f"{value!r} is not a data class.", hint=f"Use one of: {', '.join(DataClass)}.") from None


def effective_class(requested: DataClass | None, registered: DataClass | None) -> DataClass:
    """Identical bytes carry one classification, so a second name cannot relabel them."""
    if registered is None:
        return requested or DEFAULT_CLASS
    if requested is not None and requested != registered:
        raise Conflict(
            f"This content is already registered as {registered}; it cannot also be {requested}.",
            hint=f"Register it as {registered} (or omit --class), or register different data.",
        )
    return registered


LOCAL_SCHEMES = ("file",)


def check_source(uri: str) -> str:
    """One well-formed URL: a scheme, a location, no whitespace or control characters, a host for
    network schemes. The allowlist is matched against this, so a label must not smuggle a second URL."""
    from urllib.parse import urlsplit

    hint = "Give one scheme://location, e.g. s3://bucket/raw/customers.csv or file:///data/x.csv."
    if not isinstance(uri, str) or not _SCHEME_RE.match(uri) or any(c.isspace() or ord(c) < 32 for c in uri):
        raise ValidationError(f"Source {uri!r} is not a single URI.", hint=hint)
    parts = urlsplit(uri)
    if parts.scheme.lower() not in LOCAL_SCHEMES and not parts.netloc:
        raise ValidationError(f"Source {uri!r} names no host or bucket.", hint=hint)
    if "://" in uri.split("://", 1)[1]:
        raise ValidationError(f"Source {uri!r} holds more than one URI.", hint=hint)
    return uri


def file_source_matches(uri: str, data: Path) -> bool:
    """Whether a file:// label names the data actually registered (or a folder holding it), symlinks resolved."""
    from urllib.parse import unquote, urlsplit

    labelled = Path(unquote(urlsplit(uri).path)).resolve()
    real = data.resolve()
    return real == labelled or real.is_relative_to(labelled)


def source_allowed(uri: str, patterns: list[str]) -> bool:
    """Whether a source URI matches one of the project's allowlist globs."""
    return any(fnmatchcase(uri, pattern) for pattern in patterns)


def looks_like_id(ref: str) -> bool:
    return len(ref) >= MIN_PREFIX and set(ref) <= HEX
