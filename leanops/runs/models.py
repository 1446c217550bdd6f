"""What a run is and the pure rules over it: completeness, limits, liveness, filters.

No I/O here: the service loads records and hands them to these functions, so each rule is
testable without a database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from leanops.errors import ValidationError

# Every field of the required metadata schema, in the order `runs validate` reports them.
RUN_FIELDS: tuple[str, ...] = (
    "run_id",
    "owner",
    "purpose",
    "code_commit",
    "code_dirty",
    "code_remote",
    "datasets",
    "features",
    "params",
    "metrics",
    "artifacts",
    "environment",
    "start_time",
    "end_time",
    "status",
    "approval",
    "tags",
)
# The ones a run can already carry when it is created; the policy sees those at `run.create`.
START_FIELDS = frozenset(RUN_FIELDS) - {"params", "metrics", "artifacts", "end_time", "tags"}

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 500
PARAM_INDEX_LENGTH = 200
ENVIRONMENT_PREFIX = "environment/"
_KEY = re.compile(r"^[A-Za-z0-9_\-./: ]+$")

# Data classes from least to most sensitive; a run carries the highest of its datasets.
DATA_CLASSES: tuple[str, ...] = ("none", "public", "internal", "confidential", "sensitive")


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    INCOMPLETE = "incomplete"


class Approval(StrEnum):
    UNREVIEWED = "unreviewed"
    APPROVED = "approved"
    REJECTED = "rejected"


class CodeVersion(BaseModel):
    commit: str | None = None
    dirty: bool | None = None
    remote: str | None = None


class Environment(BaseModel):
    python: str
    platform: str
    packages_hash: str = Field(description="sha256 of the installed-packages list")
    packages_digest: str | None = Field(None, description="Blob holding that list")
    packages_count: int = 0


class DatasetUse(BaseModel):
    id: str = Field(description="The snapshot's content id")
    ref: str | None = Field(None, description="name@vN")
    name: str | None = None
    data_class: str = "none"


class RunRecord(BaseModel):
    """A run as stored; `params`, `metrics` (latest value), `tags` and `artifacts` are loaded with it."""

    id: str
    owner: str
    purpose: str = ""
    status: RunStatus = RunStatus.RUNNING
    approval: Approval = Approval.UNREVIEWED
    zone: str
    start_time: datetime
    end_time: datetime | None = None
    code: CodeVersion = Field(default_factory=CodeVersion)
    datasets: list[DatasetUse] = Field(default_factory=list)
    data_class: str = "none"
    features: list[str] = Field(default_factory=list)
    environment: Environment | None = None
    missing: list[str] = Field(default_factory=list, description="Required fields absent when it ended")
    pid: int | None = None
    hostname: str | None = None
    heartbeat_at: datetime | None = None
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    artifacts: list[str] = Field(default_factory=list)


class Validation(BaseModel):
    run_id: str
    status: RunStatus
    required: list[str]
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


# (key, step, value or None, epoch seconds, flag or None) — a tuple, because building one
# costs a fraction of a microsecond inside a training loop.
MetricPoint = tuple[str, int, float | None, float, str | None]
ParamRow = tuple[str, str, float | None]


class ParamFilter(BaseModel):
    key: str
    op: Literal["=", "!=", ">", ">=", "<", "<="] = "="
    value: str


class MetricFilter(BaseModel):
    key: str
    op: Literal["=", "!=", ">", ">=", "<", "<="]
    value: float


class RunFilter(BaseModel):
    """What `runs list` / `ws.runs.search` select; every clause is an indexed join."""

    params: list[ParamFilter] = Field(default_factory=list)
    metrics: list[MetricFilter] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    status: RunStatus | None = None
    owner: str | None = None
    dataset: str | None = None
    sort: str | None = Field(None, description="metrics.X, params.X, start_time, end_time, status or owner")
    descending: bool = False
    limit: int = Field(1000, ge=1, le=100_000)


@dataclass(frozen=True)
class SearchPage:
    """One page of matches as plain rows (no validation: thousands of rows must stay cheap)."""

    columns: Sequence[str]
    runs: Sequence[Sequence[Any]]
    params: Sequence[tuple[str, str, str]]
    metrics: Sequence[tuple[str, str, float | None, str | None]]
    tags: Sequence[tuple[str, str, str]]


class RunRepo(Protocol):
    def add(self, run: RunRecord) -> None: ...
    def get(self, run_id: str) -> RunRecord | None: ...
    def running(self) -> list[RunRecord]: ...
    def finish(self, run_id: str, status: RunStatus, end_time: datetime, missing: list[str]) -> None: ...
    def heartbeat(self, run_id: str, at: datetime) -> None: ...
    def add_params(self, run_id: str, params: Sequence[ParamRow]) -> None: ...
    def add_metrics(
        self, run_id: str, points: Sequence[MetricPoint], first_seq: int, latest: Mapping[str, MetricPoint]
    ) -> None: ...
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...
    def add_datasets(self, run_id: str, datasets: Sequence[DatasetUse]) -> None: ...
    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]: ...
    def search(self, flt: RunFilter) -> SearchPage: ...


# --- rules ---------------------------------------------------------------------------------


def check_key(name: object, what: str) -> str:
    """Metric, param and tag names become columns and CLI filters: keep them plain."""
    if type(name) is not str or not name or len(name) > MAX_KEY_LENGTH or not _KEY.match(name):
        raise ValidationError(
            f"{what} name {name!r} is not valid.",
            hint=f"Use 1-{MAX_KEY_LENGTH} letters, digits, spaces or _ - . / : characters.",
        )
    return name


def param_row(key: object, value: object) -> ParamRow:
    """(key, text, number or None) for one param; refuses values too long to be a param."""
    key = check_key(key, "Param")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_LENGTH:
        raise ValidationError(
            f"Param {key!r} is {len(text):,} characters long; the limit is {MAX_PARAM_LENGTH:,}.",
            hint="Log long values (configs, vocabularies) as an artifact with run.log_artifact.",
        )
    return key, text, as_number(value if isinstance(value, int | float) and not isinstance(value, bool) else text)


def as_number(value: object) -> float | None:
    """The finite float a param denotes, if any, so params can be compared numerically."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def tag_value(key: object, value: object) -> tuple[str, str]:
    key = check_key(key, "Tag")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_LENGTH:
        raise ValidationError(f"Tag {key!r} is longer than {MAX_TAG_LENGTH} characters.")
    return key, text


def latest_points(points: Iterable[MetricPoint]) -> dict[str, MetricPoint]:
    """Each metric's latest point: the highest step, then the latest timestamp."""
    latest: dict[str, MetricPoint] = {}
    get = latest.get
    for point in points:
        seen = get(point[0])
        if seen is None or point[1] > seen[1] or (point[1] == seen[1] and point[3] >= seen[3]):
            latest[point[0]] = point
    return latest


def non_finite_flag(value: float) -> str | None:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def flagged_value(value: float | None, flag: str | None) -> float:
    """The float a stored (value, flag) pair stands for: NaN and ±inf come back as themselves."""
    if flag is None:
        return math.nan if value is None else value
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[flag]


def max_data_class(classes: Iterable[str]) -> str:
    """The most sensitive class among them; a class leanops does not know counts as sensitive."""
    rank = {c: i for i, c in enumerate(DATA_CLASSES)}
    return max(classes, key=lambda c: rank.get(c, len(DATA_CLASSES)), default="none")


def missing_fields(run: RunRecord, required: Iterable[str], *, at_start: bool = False) -> list[str]:
    """The required fields the run does not carry (at start: only those it could carry yet)."""
    present: dict[str, Callable[[RunRecord], bool]] = {
        "run_id": lambda r: bool(r.id),
        "owner": lambda r: bool(r.owner),
        "purpose": lambda r: bool(r.purpose.strip()),
        "code_commit": lambda r: bool(r.code.commit),
        "code_dirty": lambda r: r.code.dirty is not None,
        "code_remote": lambda r: bool(r.code.remote),
        "datasets": lambda r: bool(r.datasets),
        "features": lambda r: bool(r.features),
        "params": lambda r: bool(r.params),
        "metrics": lambda r: bool(r.metrics),
        "artifacts": lambda r: any(not a.startswith(ENVIRONMENT_PREFIX) for a in r.artifacts),
        "environment": lambda r: r.environment is not None and bool(r.environment.packages_hash),
        "start_time": lambda r: r.start_time is not None,
        "end_time": lambda r: r.end_time is not None,
        "status": lambda r: bool(r.status),
        "approval": lambda r: bool(r.approval),
        "tags": lambda r: bool(r.tags),
    }
    wanted = [f for f in RUN_FIELDS if f in set(required)]
    if at_start:
        wanted = [f for f in wanted if f in START_FIELDS]
    return [f for f in wanted if not present[f](run)]


def final_status(missing: list[str], outcome: Literal["ok", "failed", "killed"]) -> RunStatus:
    if outcome == "failed":
        return RunStatus.FAILED
    if outcome == "killed":
        return RunStatus.KILLED
    return RunStatus.INCOMPLETE if missing else RunStatus.FINISHED


def dead_reason(
    run: RunRecord,
    now: datetime,
    *,
    hostname: str,
    pid_alive: Callable[[int], bool],
    stale_after: timedelta,
    own_pid: int,
    open_here: Callable[[str], bool],
) -> str | None:
    """Why a `running` run is in fact dead, or None while it may still be alive."""
    if run.status != RunStatus.RUNNING:
        return None
    if run.hostname == hostname and run.pid is not None:
        if run.pid == own_pid and not open_here(run.id):
            return f"process {run.pid} on {hostname} no longer holds the run"
        if run.pid != own_pid and not pid_alive(run.pid):
            return f"process {run.pid} on {hostname} is gone"
    last = run.heartbeat_at or run.start_time
    if now - last > stale_after:
        return f"no heartbeat since {last.isoformat(timespec='seconds')}"
    return None


_COMPARISON = re.compile(r"^\s*([^<>=!]+?)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*$")


def parse_comparison(text: str, what: str) -> tuple[str, str, str]:
    """'auc>0.8' → ('auc', '>', '0.8'); a clear error names the bad expression."""
    match = _COMPARISON.match(text)
    if not match or not match.group(3):
        raise ValidationError(
            f"{what} filter {text!r} is not of the form NAME OP VALUE.",
            hint=f"For example {'auc>0.8' if what == 'Metric' else 'lr=0.01'}; OP is one of = != > >= < <=.",
        )
    key, op, value = match.groups()
    return check_key(key, what), op, value


def metric_filter(text: str) -> MetricFilter:
    key, op, value = parse_comparison(text, "Metric")
    try:
        number = float(value)
    except ValueError:
        raise ValidationError(f"Metric filter {text!r} compares with {value!r}, which is not a number.") from None
    return MetricFilter(key=key, op=op, value=number)  # type: ignore[arg-type]


def param_filter(text: str) -> ParamFilter:
    key, op, value = parse_comparison(text, "Param")
    if op not in ("=", "!=") and as_number(value) is None:
        raise ValidationError(f"Param filter {text!r} orders by {value!r}, which is not a number.")
    return ParamFilter(key=key, op=op, value=value)  # type: ignore[arg-type]


def key_value(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError(f"{what} {text!r} is not of the form KEY=VALUE.")
    return key.strip(), value.strip()


SORT_COLUMNS = ("start_time", "end_time", "status", "owner", "purpose")


def check_sort(sort: str | None) -> str | None:
    if sort is None or sort in SORT_COLUMNS:
        return sort
    kind, _, key = sort.partition(".")
    if kind in ("metrics", "params", "tags") and key:
        check_key(key, kind[:-1].capitalize())
        return sort
    raise ValidationError(
        f"Cannot sort by {sort!r}.",
        hint=f"Use metrics.NAME, params.NAME, tags.NAME or one of {', '.join(SORT_COLUMNS)}.",
    )
