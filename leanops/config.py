"""Settings: `leanops.yaml` at the project root, overridden by `LEANOPS_*` variables.

Loading is strict (unknown keys are errors) because a typo in a guardrail setting must not
silently fall back to a default. Every error names the file (or variable), the key and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from leanops.cost.prices import PriceTable
from leanops.errors import ConfigError
from leanops.zones import Zone, ZoneRules, default_zone_rules

CONFIG_FILE = "leanops.yaml"
ENV_PREFIX = "LEANOPS_"
STATE_DIR = ".leanops"


class StoreSettings(BaseModel, extra="forbid"):
    url: str = Field(
        f"sqlite:///{STATE_DIR}/leanops.db",
        description="Metadata store: sqlite:///path (relative to the project) or postgresql+psycopg://…",
    )


class ArtifactSettings(BaseModel, extra="forbid"):
    url: str = Field(f"{STATE_DIR}/artifacts", description="Artifact store: a folder, file://… or s3://bucket/prefix")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint, e.g. http://127.0.0.1:9000")


class AuditSettings(BaseModel, extra="forbid"):
    key_file: str = Field(
        f"{STATE_DIR}/audit.key",
        description="The audit chain's HMAC key, kept outside the metadata store (LEANOPS_AUDIT_KEY overrides)",
    )
    anchor: str = Field(
        f"{STATE_DIR}/audit-anchor", description="Folder for signed audit checkpoints, outside the metadata store"
    )
    checkpoint_seconds: float = Field(
        0.0, ge=0, description="At most one checkpoint per this many seconds per process (0: after every commit)"
    )


class DataSettings(BaseModel, extra="forbid"):
    allowed_sources: list[str] = Field(
        default_factory=lambda: ["file://*"],
        description="Glob patterns of source URIs datasets may come from; others are refused.",
    )


class PolicySettings(BaseModel, extra="forbid"):
    paths: list[str] = Field(
        default_factory=lambda: ["policies"], description="Folders or files of project Cedar policies"
    )
    escalation: str = Field(
        "Ask an admin for a time-boxed exception: leanops policy exception grant",
        description="Who to ask when a policy says no",
    )


class RunSettings(BaseModel, extra="forbid"):
    required_fields: list[str] = Field(
        default_factory=lambda: list(_run_fields()),
        description="Metadata a run must carry to end `finished` and become a model-version candidate",
    )
    flush_interval_seconds: float = Field(
        5.0, gt=0, description="Buffered params and metrics reach the store at least this often"
    )
    flush_size: int = Field(5000, ge=1, description="…or as soon as this many points are waiting")
    heartbeat_seconds: float = Field(30.0, gt=0, description="How often a running run proves it is alive")
    stale_after_seconds: float = Field(600.0, gt=0, description="A running run silent this long is marked killed")

    @field_validator("required_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in _run_fields()]
        if unknown:
            raise ValueError(f"unknown run field(s) {', '.join(unknown)}; known: {', '.join(_run_fields())}")
        return value


def _run_fields() -> tuple[str, ...]:
    from leanops.runs.models import RUN_FIELDS

    return tuple(RUN_FIELDS)


def _seconds(value: Any) -> float:
    from leanops.jobs.spec import seconds

    return seconds(value)


DurationSeconds = Annotated[float, BeforeValidator(_seconds)]


def _memory(value: Any) -> Any:
    from leanops.jobs.spec import memory_bytes

    return None if value is None else memory_bytes(value)


class ZoneQuota(BaseModel, extra="forbid"):
    max_deadline: DurationSeconds = Field(7200.0, description="Longest deadline a job may declare (seconds, or 2h)")
    max_concurrent_jobs: int = Field(4, ge=1, description="Jobs running at once in the zone")
    max_sweep_trials: int = Field(20, ge=1, description="Trials one sweep may fan out")
    max_cpu: float | None = Field(16.0, gt=0, description="CPU cores one job may declare (null: no limit)")
    max_memory: Annotated[int | None, BeforeValidator(_memory)] = Field(
        64 * 2**30, description="Memory one job may declare (64Gi)"
    )
    max_gpu: int | None = Field(1, ge=0, description="GPUs one job may declare")


def default_quotas() -> dict[Zone, ZoneQuota]:
    return {
        Zone.SANDBOX: ZoneQuota(max_deadline=2 * 3600, max_concurrent_jobs=4, max_sweep_trials=20),
        Zone.STAGING: ZoneQuota(max_deadline=12 * 3600, max_concurrent_jobs=4, max_sweep_trials=50),
        Zone.PRODUCTION: ZoneQuota(max_deadline=24 * 3600, max_concurrent_jobs=2, max_sweep_trials=50),
    }


class JobSettings(BaseModel, extra="forbid"):
    executor: Literal["local", "ray"] = Field("local", description="Where job attempts run: local processes or Ray")
    ray_address: str | None = Field(
        None, description="Ray cluster address (ray://host:10001 or auto); unset: a local Ray"
    )
    warn_fraction: float = Field(0.8, gt=0, lt=1, description="Warn a job's owner past this share of its deadline")
    grace_seconds: float = Field(10.0, ge=0, description="SIGTERM → SIGKILL grace, time to save a checkpoint")
    poll_seconds: float = Field(0.5, gt=0, description="How often a running job checks for a cancel request")
    scratch_root: str = Field(
        f"{STATE_DIR}/scratch", description="Per-attempt scratch folders and checkpoints (shared path for Ray clusters)"
    )
    scratch_ttl: DurationSeconds = Field(86400.0, description="How long scratch outputs and attempt logs are kept")
    gc_grace: DurationSeconds = Field(
        86400.0, description="gc keeps an unreferenced blob this long after it was last written or reused"
    )
    secrets_file: str | None = Field(
        "~/.config/leanops/secrets.env", description="KEY=VALUE secrets file, outside the repository"
    )
    quotas: dict[Zone, ZoneQuota] = Field(
        default_factory=default_quotas,
        description="Per zone: longest deadline, concurrent jobs, largest sweep, cpu/memory/gpu per job",
    )


class NotifySettings(BaseModel, extra="forbid"):
    sinks: list[str] = Field(
        default_factory=lambda: ["stderr", f"file:{STATE_DIR}/notifications.log"],
        description="Where alerts go: stdout, stderr, file:PATH, https://… (JSON webhook), slack+https://…",
    )

    @field_validator("sinks")
    @classmethod
    def _known_sinks(cls, value: list[str]) -> list[str]:
        from leanops.adapters.notifiers import check_sink

        return [check_sink(v) for v in value]


class InitialBudget(BaseModel, extra="forbid"):
    zone: Zone
    project: str | None = Field(None, description="Only spend tagged with this project; unset: the whole zone")
    monthly: Decimal = Field(ge=0, description="Budget per calendar month, in `currency`")
    owner: str | None = Field(None, description="Who is alerted; default: the project owner")
    thresholds: list[int] | None = Field(None, description="Percentages that alert; default: budgets.thresholds")


class BudgetSettings(BaseModel, extra="forbid"):
    thresholds: list[int] = Field(
        default_factory=lambda: [50, 80, 100], description="Alert at these % of actual and forecast spend"
    )
    forecast_after_days: float = Field(2.0, ge=0, description="No forecast alert before this many days of the month")
    attribution_tags: list[str] = Field(
        default_factory=lambda: ["project", "owner", "cost_center"],
        description="Spend lacking one of these is untagged: refused in zones requiring tags, reported elsewhere",
    )
    default_tags: dict[str, str] = Field(
        default_factory=dict, description="Tags every ledger entry gets unless it has its own, e.g. cost_center"
    )
    initial: list[InitialBudget] = Field(
        default_factory=list, description="Budgets in force until `leanops budget set` replaces them"
    )


class NamingSettings(BaseModel, extra="forbid"):
    dataset: str | None = Field(None, description="Regular expression dataset names must match")
    job: str | None = Field(None, description="…job names")
    model: str | None = Field(None, description="…model names")
    endpoint: str | None = Field(None, description="…serving endpoint names")

    @field_validator("*")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        from leanops.cost.naming import check_pattern

        return None if value is None else check_pattern(value)


class ServingSettings(BaseModel, extra="forbid"):
    log_dir: str = Field(f"{STATE_DIR}/predictions", description="Prediction and feedback logs (Parquet by day)")
    sample_rate: float = Field(1.0, ge=0, le=1, description="Share of requests written to the prediction log")
    log_inputs: list[str] | None = Field(None, description="Input columns to log; unset: all of them")
    queue_size: int = Field(10_000, ge=1, description="Log rows waiting to be written; beyond it they are dropped")
    max_body_bytes: int = Field(1 << 20, ge=1, description="Largest request body; larger is refused with 413")
    max_rows: int = Field(10_000, ge=1, description="Most rows in one /predict request")
    poll_seconds: DurationSeconds = Field(1.0, description="How often a server checks its zone's alias")
    meter_seconds: DurationSeconds = Field(300.0, description="How often uptime and traffic are charged")
    batch_rows: int = Field(10_000, ge=1, description="Rows per chunk in batch scoring")


class Settings(BaseSettings):
    """The effective configuration of one leanops project."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    project: str = Field("default", description="Project name; tags every resource and ledger entry")
    owner: str | None = Field(None, description="Who owns the project (budget owner by default)")
    user: str | None = Field(None, description="Who the local CLI and SDK act as (LEANOPS_USER)")
    zone: Zone = Field(Zone.SANDBOX, description="The zone actions happen in unless one is named")
    store: StoreSettings = Field(default_factory=StoreSettings)
    artifacts: ArtifactSettings = Field(default_factory=ArtifactSettings)
    zones: dict[Zone, ZoneRules] = Field(
        default_factory=default_zone_rules,
        description="Per zone: sensitive data, approvals, required tags, rollback target, complete metadata, hard ceiling",
    )
    data: DataSettings = Field(default_factory=DataSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    runs: RunSettings = Field(default_factory=RunSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    currency: str = Field("USD", min_length=1, description="Currency of prices, budgets and the ledger")
    prices: PriceTable = Field(default_factory=PriceTable)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    naming: NamingSettings = Field(default_factory=NamingSettings)

    root: Path = Field(Path("."), exclude=True, description="The folder holding leanops.yaml")
    config_file: Path | None = Field(None, exclude=True)

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("use letters, digits, '-', '_' or '.' only")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file, which arrives as init kwargs.
        return (env_settings, init_settings)

    @property
    def acting_user(self) -> str:
        """The configured user, else the OS login, so every write has an actor."""
        return self.user or self.owner or os.environ.get("USER") or "unknown"

    def resolve_path(self, value: str) -> str:
        """Relative paths in URLs are relative to the project root, not the working directory."""
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            rel = value.removeprefix("sqlite:///")
            return value if rel in ("", ":memory:") else f"sqlite:///{(self.root / rel).resolve()}"
        if "://" not in value and not Path(value).is_absolute():
            return str((self.root / value).resolve())
        return value

    @property
    def store_url(self) -> str:
        return self.resolve_path(self.store.url)

    @property
    def artifacts_url(self) -> str:
        return self.resolve_path(self.artifacts.url)


def find_config(start: Path | None = None) -> Path:
    """The nearest leanops.yaml at or above `start` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"No {CONFIG_FILE} found in {here} or any folder above it.",
        hint="Run `leanops init` in your project folder, or cd into one.",
    )


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate a project's settings (raises `ConfigError` naming file, key and reason)."""
    config_file = path if path and path.is_file() else find_config(path)
    raw = read_yaml(config_file)
    try:
        settings = Settings(**raw)
    except pydantic.ValidationError as exc:
        raise _config_error(exc, config_file, os.environ) from None
    settings.root = config_file.parent.resolve()
    settings.config_file = config_file.resolve()
    return settings


def read_yaml(path: Path, content: bytes | None = None) -> dict[str, Any]:
    """A YAML mapping from `path` (or `content`, read from elsewhere but named by `path`), or a
    `ConfigError` with the line of the syntax error."""
    try:
        text = path.read_text(encoding="utf-8") if content is None else content.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.", hint="Check the path and its permissions.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}).",
            hint="Save the file as UTF-8 YAML; a binary file cannot be a configuration.",
        ) from None
    if "\x00" in text:
        raise ConfigError(f"{path}: a binary file, not YAML text.", hint="Point at the YAML file itself.")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {reason}.", hint="Fix the syntax at that line.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}.")
    return data


def yaml_line(path: Path, keys: tuple[str | int, ...]) -> int | None:
    """The 1-based line where the key path `keys` sits in a YAML file, if it does."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def yaml_problems(exc: pydantic.ValidationError, path: Path) -> list[str]:
    """Each validation error of a YAML file as `file:line: key 'a.b': reason`, for a person to fix."""
    problems = []
    for err in exc.errors():
        keys = tuple(k for k in err["loc"] if k != "[key]" and not (isinstance(k, str) and k.startswith("function-")))
        keys = keys or tuple(k for k in (err.get("ctx") or {}).get("key", "").split(".") if k)
        dotted = ".".join(str(k) for k in keys) or "(top level)"
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        line = yaml_line(path, keys) if keys else None
        problems.append(f"{path}:{line}: key '{dotted}': {reason}" if line else f"{path}: key '{dotted}': {reason}")
    return problems


def env_var_for(keys: tuple[str | int, ...]) -> str:
    return ENV_PREFIX + "__".join(str(k).upper() for k in keys)


def _config_error(exc: pydantic.ValidationError, path: Path, environ: Mapping[str, str]) -> ConfigError:
    problems = []
    for err in exc.errors():
        keys = tuple(err["loc"])
        dotted = ".".join(str(k) for k in keys)
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key (check its spelling against `leanops config show`)"
        var = next((env_var_for(keys[:i]) for i in range(len(keys), 0, -1) if env_var_for(keys[:i]) in environ), None)
        if var:
            problems.append(f"{var} (key '{dotted}'): {reason}")
        else:
            line = yaml_line(path, keys)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: key '{dotted}': {reason}")
    return ConfigError(
        "Invalid configuration:\n  " + "\n  ".join(problems),
        hint="Fix the value named above; `leanops config show` prints the effective settings.",
        problems=problems,
    )


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)(?P<secret>[^@/\s]+)@")
_QUERY_SECRET = re.compile(r"(?i)(?P<key>[?&](?:password|passwd|secret|token|key|signature|sig)=)[^&\s]+")


def mask_credentials(value: Any) -> Any:
    """Passwords in URLs and secret-looking query parameters become ***, in any nested value."""
    if isinstance(value, str):
        return _QUERY_SECRET.sub(r"\g<key>***", _URL_PASSWORD.sub(r"\g<head>***@", value))
    if isinstance(value, dict):
        return {k: mask_credentials(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_credentials(v) for v in value]
    return value


def provenance(settings: Settings, environ: Mapping[str, str] | None = None) -> list[tuple[str, Any, str]]:
    """Each effective setting as (key, value, where it came from), credentials masked."""
    environ = os.environ if environ is None else environ
    rows: list[tuple[str, Any, str]] = []

    def walk(value: Any, keys: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            for key, sub in value.items():
                walk(sub, (*keys, str(key)))
            return
        var = next((env_var_for(keys[:i]) for i in range(len(keys), 0, -1) if env_var_for(keys[:i]) in environ), None)
        line = yaml_line(settings.config_file, keys) if settings.config_file else None
        source = f"env {var}" if var else f"{CONFIG_FILE}:{line}" if line else "default"
        rows.append((".".join(keys), mask_credentials(value), source))

    walk(settings.model_dump(mode="json"), ())
    return rows
