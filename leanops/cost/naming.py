"""Naming conventions: a regular expression per resource kind, checked when each is created.

    naming:
      dataset: "^[a-z]+-[a-z0-9-]+$"     # <team>-<what>, e.g. growth-customers
      job: "^(train|eval|score)-[a-z0-9-]+$"

Names that follow a convention tell whose a resource is and what it is for, so spend can be
traced back from a bill to a team. An unset kind is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from leanops.errors import ValidationError

KINDS = ("dataset", "job", "model", "endpoint")

# Which guarded action creates a resource of each kind, and how to read the name from it.
CREATING_ACTIONS = {"dataset.register": "dataset", "model.register": "model", "deploy": "endpoint"}


def check_pattern(pattern: str) -> str:
    """`pattern` if it compiles, else a ValueError (used by config validation)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return pattern


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_name(kind: str, name: str, patterns: Mapping[str, str | None]) -> str:
    """`name` if it matches the convention for `kind` (or there is none), else `ValidationError`.

    check_name("job", "train-churn", {"job": "^train-"})  -> "train-churn"
    """
    pattern = patterns.get(kind)
    if pattern and not _compiled(pattern).fullmatch(name):
        raise ValidationError(
            f"The {kind} name {name!r} does not follow the project's naming convention {pattern!r}.",
            hint=f"Rename it to match, or change naming.{kind} in leanops.yaml.",
            kind=kind,
            name=name,
            pattern=pattern,
        )
    return name


def created_name(action: str, resource_id: str) -> tuple[str, str] | None:
    """(kind, name) when `action` creates a named resource, else None."""
    kind = CREATING_ACTIONS.get(action)
    if kind is None:
        return None
    return kind, resource_id.split("/", 1)[0]


def naming_check(naming: Any) -> Callable[[str, Any, Any], None]:
    """A guard check enforcing `naming` (the settings, read on each call) on every creating action."""

    def check(action: str, resource: Any, zone: Any) -> None:
        found = created_name(action, resource.id)
        if found is not None:
            check_name(*found, naming.model_dump())

    return check
