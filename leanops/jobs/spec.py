"""A job spec: the version-controlled YAML a training job is run from.

    name: train-churn
    entrypoint: train:main            # python `module:function`, or a command
    owner: alice                      # alerted when it times out or gives up
    deadline: 30m                     # past it the job is stopped and marked timed_out
    params: {lr: 0.1, depth: 3}       # defaults; `leanops jobs run jobs/train.yaml -p lr=0.01`
    datasets: [customers@v2]
    resources: {cpu: 2, memory: 4Gi, gpu: 0}
    retry: {max_attempts: 3, transient_exit_codes: [75]}

Loading is strict: an unknown key, a bad value or a missing owner or deadline is refused with
the file, the line and the key, because a typo in a guardrail must not fall back to a default.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import shlex
import shutil
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from leanops.config import read_yaml, yaml_line
from leanops.errors import ConfigError, ValidationError
from leanops.governance import parse_duration
from leanops.zones import Zone

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?|[KMGT]B?|B)?$", re.I)
_MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "ki": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mi": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gi": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "ti": 2**40,
}
# EX_TEMPFAIL from sysexits.h: the conventional "try again later" exit code.
DEFAULT_TRANSIENT_EXIT_CODES = (75,)
DEFAULT_TRANSIENT_EXCEPTIONS = ("ConnectionError", "TimeoutError")

Scalar = str | int | float | bool | None


def seconds(value: Any) -> float:
    """A duration as seconds: a number of seconds, or text like '90s', '30m', '2h'."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30m")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError("a duration must be a positive, finite number of seconds")
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except ValidationError:
            raise ValueError(f"{value!r} is not a duration; use 0.5s, 90s, 30m, 8h or 7d") from None
    raise ValueError("a duration is a number of seconds or text like 30m")


Seconds = Annotated[float, BeforeValidator(seconds)]


def human_duration(value: float) -> str:
    """90 → '1m30s', 7200 → '2h', 1.5 → '1.5s'."""
    if value < 60:
        return f"{round(value, 1):g}s"
    whole = int(round(value))
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m"), (whole % 60, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"


def memory_bytes(value: Any) -> int:
    """'512Mi', '4Gi', '2GB' or a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _MEMORY.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not an amount of memory; use 512Mi, 4Gi or 2GB")
    return int(float(match.group(1)) * _MEMORY_UNITS[(match.group(2) or "").lower()])


class Resources(BaseModel, extra="forbid"):
    """What the job declares it needs: metered per attempt and checked against quotas."""

    cpu: float = Field(1.0, gt=0, description="CPU cores")
    memory: Annotated[int, BeforeValidator(memory_bytes)] = Field(2**30, description="Bytes (512Mi, 4Gi, …)")
    gpu: int = Field(0, ge=0)


class Backoff(BaseModel, extra="forbid"):
    """Exponential backoff with jitter between attempts: initial · multiplier^n, capped at max."""

    initial: Seconds = 1.0
    max: Seconds = 60.0
    multiplier: float = Field(2.0, ge=1.0)
    jitter: float = Field(1.0, ge=0, description="Up to this many random seconds added to each wait")


class RetryPolicy(BaseModel, extra="forbid"):
    """Which failures are worth another attempt; everything else fails fast."""

    max_attempts: int = Field(3, ge=1, le=50)
    retry_on: Literal["transient", "any", "never"] = "transient"
    transient_exit_codes: list[int] = Field(default_factory=lambda: list(DEFAULT_TRANSIENT_EXIT_CODES))
    transient_exceptions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TRANSIENT_EXCEPTIONS),
        description="Exception class names (a subclass matches too, e.g. ConnectionResetError)",
    )
    backoff: Backoff = Field(default_factory=Backoff)


class JobSpec(BaseModel, extra="forbid"):
    """One training job as written in the repository."""

    name: str
    entrypoint: str | list[str] = Field(description="`module:function`, or a command (text or list)")
    owner: str = Field(description="Who answers for the job and receives its alerts")
    deadline: Seconds = Field(description="Wall-clock limit for the whole job, retries included")
    description: str = ""
    zone: Zone = Zone.SANDBOX
    params: dict[str, Scalar] = Field(default_factory=dict)
    datasets: list[str] = Field(default_factory=list, description="Dataset snapshot references")
    features: list[str] = Field(default_factory=list)
    resources: Resources = Field(default_factory=Resources)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    seed: int | None = Field(None, description="Passed as LEANOPS_SEED and PYTHONHASHSEED, and as `seed` if accepted")
    grace: Seconds | None = Field(None, description="SIGTERM → SIGKILL grace; default jobs.grace_seconds")
    warn_fraction: float | None = Field(None, gt=0, lt=1, description="Warn the owner past this share of the deadline")
    scratch_ttl: Seconds | None = Field(None, description="How long scratch outputs and logs are kept")
    tags: dict[str, str] = Field(default_factory=dict, description="project, cost_center, …")
    secrets: list[str] = Field(default_factory=list, description="Names injected into the job's environment only")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables set for the job (plain values, no secrets)"
    )
    env_passthrough: list[str] = Field(
        default_factory=list,
        description="Names of the submitter's variables the job may see; nothing else of that environment passes",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (at most 64)")
        return value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("every job needs an owner")
        return value.strip()

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or not all(isinstance(a, str) and a for a in value)):
            raise ValueError("a command is a non-empty list of arguments")
        if isinstance(value, str) and not value.strip():
            raise ValueError("name a python `module:function` or a command")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _ENV_NAME.match(v)]
        if bad:
            raise ValueError(f"secret names must be environment variable names: {', '.join(bad)}")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _backoff(self) -> JobSpec:
        if self.retry.backoff.initial > self.retry.backoff.max:
            raise ValueError("retry.backoff.initial is longer than retry.backoff.max")
        return self

    @property
    def is_callable(self) -> bool:
        return isinstance(self.entrypoint, str) and bool(_CALLABLE.match(self.entrypoint.strip()))

    def command(self, params: Mapping[str, Any]) -> list[str]:
        """The argv of a command entrypoint, with `{param}` placeholders filled in."""
        argv = shlex.split(self.entrypoint) if isinstance(self.entrypoint, str) else list(self.entrypoint)
        try:
            return [arg.format(**params) for arg in argv]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(
                f"Job {self.name}: the command refers to {exc}, which is not a param.",
                hint="Declare it under `params:` or escape braces as {{ }}.",
            ) from None

    def with_params(self, overrides: Mapping[str, str] | Sequence[str]) -> JobSpec:
        """A copy with `-p key=value` overrides applied, each cast to its default's type."""
        pairs = dict(_pair(o) for o in overrides) if not isinstance(overrides, Mapping) else dict(overrides)
        params = dict(self.params)
        for key, text in pairs.items():
            if key not in params:
                known = ", ".join(sorted(params)) or "none"
                raise ValidationError(
                    f"Job {self.name} has no param {key!r}.",
                    hint=f"Declared params: {known}. Add it under `params:` in the spec first.",
                )
            params[key] = cast_param(key, text, params[key])
        return self.model_copy(update={"params": params})


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError(f"Param override {text!r} is not key=value.", hint="Example: -p lr=0.01")
    return key.strip(), value


def cast_param(key: str, text: Any, default: Scalar) -> Scalar:
    """An override as the type of its default (YAML rules: 0.1 is a float, true a bool)."""
    if not isinstance(text, str):
        value: Any = text
    else:
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
    if default is None or isinstance(default, str):
        return text if isinstance(default, str) and isinstance(text, str) else value
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, expected) and (expected is bool) == isinstance(value, bool):
        return value
    raise ValidationError(f"Param {key}={text!r} is not a {expected.__name__} like its default {default!r}.")


class LoadedSpec(BaseModel):
    """A spec and where it came from."""

    spec: JobSpec
    path: Path
    root: Path = Field(description="The folder the entrypoint is resolved and run from")


def load_spec(path: Path, root: Path | None = None) -> LoadedSpec:
    """Parse and validate a spec file; every problem names the file, the line and the key."""
    path = Path(path)
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        raise ValidationError(exc.message, hint=exc.hint) from None
    try:
        spec = JobSpec(**raw)
    except pydantic.ValidationError as exc:
        raise _spec_error(exc, path, raw) from None
    return LoadedSpec(spec=spec, path=path.resolve(), root=(root or path.resolve().parent).resolve())


_MISSING_HINTS = {
    "owner": "every job needs an owner, who is alerted when it times out or gives up",
    "deadline": "every job needs a deadline (e.g. 30m); past it the job is stopped",
    "name": "name the job",
    "entrypoint": "name a python `module:function` or a command",
}


def _yaml_keys(loc: tuple[Any, ...], raw: Any) -> tuple[str | int, ...]:
    """The part of a pydantic error location that exists in the file (drops union tags)."""
    keys: list[str | int] = []
    node = raw
    for key in loc:
        in_mapping = isinstance(node, Mapping) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if in_mapping or in_list:
            keys.append(key)
            node = node[key]
        elif not keys or isinstance(node, Mapping):
            keys.append(key)  # a missing or unknown key: still name it
            break
    return tuple(keys)


def _spec_error(exc: pydantic.ValidationError, path: Path, raw: Mapping[str, Any]) -> ValidationError:
    problems = []
    for err in exc.errors():
        keys = _yaml_keys(tuple(err["loc"]), raw)
        dotted = ".".join(str(k) for k in keys) or "(top level)"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            reason = "required: " + _MISSING_HINTS.get(dotted, "add it")
        elif err["type"] == "extra_forbidden":
            reason = "unknown key (check its spelling)"
        line = yaml_line(path, keys) if keys else None
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: key '{dotted}': {reason}")
    problems = list(dict.fromkeys(problems))
    return ValidationError(
        "Invalid job spec:\n  " + "\n  ".join(problems),
        hint="Fix the key named above; docs/jobs.md describes every key.",
        problems=problems,
    )


def locate_entrypoint(spec: JobSpec, root: Path, params: Mapping[str, Any]) -> Path | None:
    """Refuse an entrypoint that cannot run (unknown module, function or command); return the
    project file it runs from, if it is one (its commit is checked with the spec's)."""
    if not spec.is_callable:
        argv = spec.command(params)
        exe = argv[0]
        if "/" in exe:
            found = (root / exe).exists() or Path(exe).exists()
        else:
            found = shutil.which(exe) is not None
        if not found:
            raise ValidationError(
                f"Job {spec.name}: command {exe!r} is not found.",
                hint="Use a program on PATH or a path relative to the project.",
            )
        local = [root / a for a in argv if not a.startswith("-") and (root / a).is_file()]
        return local[0] if local else None
    module, _, function = str(spec.entrypoint).strip().partition(":")
    source = _module_source(module, root)
    if source is None:
        raise ValidationError(
            f"Job {spec.name}: no python module {module!r} in {root} or the environment.",
            hint="The entrypoint is `module:function`, with the module importable from the project root.",
        )
    names = _top_level_names(source) if source.suffix == ".py" else {"*"}
    if "*" not in names and function not in names:
        raise ValidationError(
            f"Job {spec.name}: module {module!r} ({source}) defines no {function!r}.",
            hint="Name a function defined at the top level of that module.",
        )
    inside = source.is_absolute() and root.resolve() in source.resolve().parents
    return source if inside else None


def _module_source(module: str, root: Path) -> Path | None:
    parts = module.split(".")
    for base in (root,):
        candidate = base.joinpath(*parts)
        for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if path.is_file():
                return path
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    return Path(found.origin) if found.origin and found.origin not in ("built-in", "frozen") else Path(module)


def _top_level_names(source: Path) -> set[str]:
    try:
        stat = source.stat()
    except OSError:
        return {"*"}
    return set(_names_in(str(source), stat.st_mtime_ns, stat.st_size))


# Sweeps check the same module from many threads, and CPython 3.11's ast.parse is not
# thread-safe ("AST constructor recursion depth mismatch"): parse once per file version, alone.
_PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=256)
def _names_in(path: str, _mtime_ns: int, _size: int) -> frozenset[str]:
    with _PARSE_LOCK:
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return frozenset({"*"})
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
            if any(a.name == "*" for a in node.names):
                return frozenset(names | {"*"})
    return frozenset(names)
