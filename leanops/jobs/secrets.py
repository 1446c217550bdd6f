"""Secrets a job names: found in the environment or a secrets file outside the repository,
injected into the job's environment only, and masked wherever text leaves the job.

Only names are ever recorded (spec, run, audit); a value that the entrypoint prints anyway is
replaced by `***` in the stored log, the failure message and any alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from leanops.errors import ValidationError

MASK = "***"
# Shorter values would mask ordinary words and digits in every log line.
MIN_MASKED_LENGTH = 4


def read_secrets_file(path: Path, project_root: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped) from a file outside the project."""
    path = path.expanduser().resolve()
    root = project_root.resolve()
    if path == root or root in path.parents:
        raise ValidationError(
            f"The secrets file {path} is inside the project folder {root}.",
            hint="Keep secrets out of the repository: move the file, e.g. to ~/.config/leanops/secrets.env.",
        )
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def resolve_secrets(
    names: Iterable[str], environ: Mapping[str, str], secrets_file: Path | None, project_root: Path
) -> dict[str, str]:
    """The value of each named secret: the environment first, then the secrets file."""
    names = list(names)
    if not names:
        return {}
    found = {n: environ[n] for n in names if n in environ}
    missing = [n for n in names if n not in found]
    if missing and secrets_file is not None:
        from_file = read_secrets_file(secrets_file, project_root)
        found |= {n: from_file[n] for n in missing if n in from_file}
    missing = [n for n in names if n not in found]
    if missing:
        where = f"the environment or {secrets_file}" if secrets_file else "the environment"
        raise ValidationError(
            f"Secret(s) {', '.join(missing)} not found in {where}.",
            hint="Export them, or add NAME=value lines to the secrets file (jobs.secrets_file).",
        )
    return found


class Redactor:
    """Replaces every known secret value in text with `***`."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.values = sorted({v for v in values if len(v) >= MIN_MASKED_LENGTH}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.values)

    def text(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        return text

    def data(self, data: bytes) -> bytes:
        for value in self.values:
            data = data.replace(value.encode(), MASK.encode())
        return data
