"""Data contracts: what a table must look like before it may become a snapshot.

A contract is a small YAML file — columns with dtype, nullability, range, allowed values and
uniqueness, plus row-count bounds — checked with pandera. Every column is checked at once,
so one registration attempt reports every problem with counts and example rows.

    columns:
      customer_id: {dtype: int, nullable: false, unique: true}
      age: {dtype: int, min: 0, max: 120}
      plan: {dtype: str, allowed: [free, pro, team]}
    rows: {min: 1}
"""

from __future__ import annotations

import difflib
import math
import warnings
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic import BaseModel, Field, field_validator, model_validator

from leanops.config import read_yaml, yaml_line
from leanops.errors import ConfigError, NotFound, ValidationError

if TYPE_CHECKING:
    import pandas as pd

Dtype = Literal["int", "float", "str", "bool", "datetime"]
Bound = int | float | datetime
MAX_EXAMPLES = 3
_TRUE = frozenset({"true", "yes", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "n", "f", "0"})


class ColumnSpec(BaseModel, extra="forbid"):
    """What one column promises; anything left out is not checked."""

    dtype: Dtype | None = Field(None, description="int, float, str, bool or datetime")
    nullable: bool = True
    unique: bool = False
    min: Bound | None = None
    max: Bound | None = None
    allowed: list[str | int | float | bool] | None = Field(None, description="The only values permitted")
    description: str = ""

    @field_validator("min", "max", mode="before")
    @classmethod
    def _dates_are_midnight(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        bounds = [b for b in (self.min, self.max) if b is not None]
        if bounds and self.dtype in ("str", "bool"):
            raise ValueError(f"min/max need a numeric or datetime dtype, not {self.dtype}")
        if bounds and self.dtype is None:
            # A range says what kind of values it ranges over; values of another kind are reported.
            self.dtype = "datetime" if isinstance(bounds[0], datetime) else "float"
        want_time = self.dtype == "datetime"
        if any(isinstance(b, datetime) != want_time for b in bounds):
            raise ValueError("min/max must be dates for a datetime column and numbers otherwise")
        if self.min is not None and self.max is not None and _naive(self.min) > _naive(self.max):
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class RowBounds(BaseModel, extra="forbid"):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RowBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class DataContract(BaseModel, extra="forbid"):
    """The promise a dataset keeps; `strict` also refuses columns the contract does not name."""

    columns: dict[str, ColumnSpec]
    rows: RowBounds | None = None
    strict: bool = False
    description: str = ""

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`age: int` means `age: {dtype: int}`; a bare `age:` only asks the column to exist."""
        if not isinstance(value, dict):
            return value
        return {k: {"dtype": v} if isinstance(v, str) else {} if v is None else v for k, v in value.items()}


class Example(BaseModel):
    row: int | None = Field(None, description="0-based position in the table (header excluded)")
    value: Any = None


class Violation(BaseModel):
    """One broken promise: which column, which check, how many rows, a few of them."""

    column: str | None = Field(None, description="None: the table as a whole")
    check: str = Field(
        description="dtype, min, max, allowed, not_nullable, field_uniqueness, missing, unexpected or rows"
    )
    problem: str
    count: int = Field(description="Rows that break it; 0 when the column or table breaks it as a whole")
    examples: list[Example] = Field(default_factory=list)

    def line(self) -> str:
        where = self.column if self.column is not None else "(table)"
        if self.column is None or self.check in ("missing", "unexpected"):
            return f"{where}: {self.problem}"
        shown = ", ".join(f"row {e.row}: {e.value!r}" for e in self.examples)
        rows = "row" if self.count == 1 else "rows"
        return f"{where}: {self.count} {rows} {self.problem}" + (f" (e.g. {shown})" if shown else "")


# -- loading ------------------------------------------------------------------------------


def load_contract(path: Path) -> DataContract:
    """Read and check a contract file; a typo is reported with the file, the key and its line."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No contract file at {path}.", hint="Check the path given to --contract.")
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        raise ValidationError(exc.message, hint=exc.hint) from None
    try:
        return DataContract.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = _problems(exc, raw, path)
        raise ValidationError(
            f"Invalid data contract {path}:\n  " + "\n  ".join(problems),
            hint="Contract keys: columns (dtype, nullable, unique, min, max, allowed, description), "
            "rows (min, max), strict.",
            file=str(path),
            problems=problems,
        ) from None


def _problems(exc: pydantic.ValidationError, raw: dict[str, Any], path: Path) -> list[str]:
    seen: dict[str, str] = {}
    for err in exc.errors():
        keys = _present(raw, tuple(err["loc"]))
        dotted = ".".join(str(k) for k in keys) or "(top level)"
        if dotted in seen:
            continue
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key" + _suggest(str(keys[-1]), _known_keys(keys[:-1]))
        line = yaml_line(path, keys) if keys else None
        seen[dotted] = f"{path}:{line}: key '{dotted}': {reason}" if line else f"{path}: key '{dotted}': {reason}"
    return list(seen.values())


def _present(raw: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of an error's location found in the file; pydantic adds union-member tags and
    names missing keys, which have no line of their own."""
    keys: list[Any] = []
    node = raw
    for key in loc:
        found = isinstance(node, dict) and key in node
        if found or (isinstance(node, list) and isinstance(key, int) and key < len(node)):
            node = node[key]
        else:
            if isinstance(node, dict):
                keys.append(key)
            break
        keys.append(key)
    return tuple(keys)


def _known_keys(parent: tuple[Any, ...]) -> list[str]:
    if not parent:
        return list(DataContract.model_fields)
    if parent[0] == "rows":
        return list(RowBounds.model_fields)
    if parent[0] == "columns" and len(parent) == 2:
        return list(ColumnSpec.model_fields)
    return []


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})" if known else ""


# -- checking -----------------------------------------------------------------------------


def check_frame(df: pd.DataFrame, contract: DataContract) -> list[Violation]:
    """Every way `df` breaks `contract`, per column and check; empty when it keeps it."""
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {name: _column(pa, df, name, spec) for name, spec in contract.columns.items()},
        checks=_row_checks(pa, contract.rows),
        strict=contract.strict,
    )
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _violations(exc.failure_cases, contract, len(df))
    return []


def _column(pa: Any, df: pd.DataFrame, name: str, spec: ColumnSpec) -> Any:
    checks = []
    if name in df.columns:
        values = coerce(df[name], spec.dtype)
        raw = df[name]

        def at(s: pd.Series) -> pd.Series:
            return values.reindex(s.index)

        if spec.dtype:
            checks.append(pa.Check(lambda s: _fits(raw.reindex(s.index), at(s), spec.dtype), name="dtype"))
        if spec.min is not None:
            low = _bound(spec.min)
            checks.append(pa.Check(lambda s: at(s).isna() | (at(s) >= low), name="min"))
        if spec.max is not None:
            high = _bound(spec.max)
            checks.append(pa.Check(lambda s: at(s).isna() | (at(s) <= high), name="max"))
        if spec.allowed is not None:
            allowed = _allowed(spec.allowed, spec.dtype)
            checks.append(pa.Check(lambda s: at(s).isna() | at(s).isin(allowed), name="allowed"))
    return pa.Column(nullable=spec.nullable, unique=spec.unique, checks=checks, required=True)


def _row_checks(pa: Any, rows: RowBounds | None) -> list[Any]:
    if rows is None:
        return []
    low, high = rows.min or 0, rows.max if rows.max is not None else math.inf
    return [pa.Check(lambda d: low <= len(d) <= high, name="rows")]


def coerce(series: pd.Series, dtype: Dtype | None) -> pd.Series:
    """Values as the contract's dtype; a value that cannot be read as it becomes null."""
    import pandas as pd

    if dtype in ("int", "float"):
        if pd.api.types.is_bool_dtype(series):
            return pd.Series(math.nan, index=series.index)
        return pd.to_numeric(series, errors="coerce")
    if dtype == "bool":
        if pd.api.types.is_bool_dtype(series):
            return series
        text = series.astype("string").str.strip().str.lower()
        return text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
    if dtype == "datetime":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.to_datetime(series, errors="coerce", utc=True)
    return series


def _fits(raw: pd.Series, values: pd.Series, dtype: Dtype) -> pd.Series:
    ok = raw.isna() | values.notna()
    if dtype == "int":
        ok &= raw.isna() | (values % 1 == 0).fillna(False)
    return ok


def _bound(value: Bound) -> Any:
    import pandas as pd

    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return value


def _allowed(values: list[Any], dtype: Dtype | None) -> list[Any]:
    if dtype == "str":
        return [str(v) for v in values]
    return values


def _naive(value: Bound) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def _violations(cases: pd.DataFrame, contract: DataContract, rows: int) -> list[Violation]:
    out: list[Violation] = []
    for (column, check), group in cases.groupby([cases["column"].fillna(""), cases["check"]], sort=False):
        column = column or None
        spec = contract.columns.get(column) if column else None
        if check == "column_in_dataframe":
            name = str(group["failure_case"].iloc[0])
            out.append(Violation(column=name, check="missing", problem="column is missing", count=0))
            continue
        if check in ("column_in_schema", "column_not_in_schema"):
            for name in group["failure_case"]:
                out.append(
                    Violation(
                        column=str(name),
                        check="unexpected",
                        problem="column is not in the contract (strict: true)",
                        count=0,
                    )
                )
            continue
        if check == "rows":
            out.append(Violation(column=None, check="rows", problem=_rows_problem(rows, contract.rows), count=0))
            continue
        with_rows = group[group["index"].notna()]
        examples = [
            Example(row=int(i), value=_plain(v))
            for i, v in zip(with_rows["index"][:MAX_EXAMPLES], with_rows["failure_case"][:MAX_EXAMPLES], strict=True)
        ]
        out.append(
            Violation(
                column=column,
                check=str(check),
                problem=_problem(str(check), spec),
                count=len(with_rows) or len(group),
                examples=examples,
            )
        )
    order = {"missing": 0, "unexpected": 1, "rows": 2}
    return sorted(
        out,
        key=lambda v: (
            order.get(v.check, 3),
            list(contract.columns).index(v.column) if v.column in contract.columns else -1,
        ),
    )


def _problem(check: str, spec: ColumnSpec | None) -> str:
    if spec is None:
        return f"fail {check}"
    return {
        "dtype": f"not {spec.dtype}",
        "min": f"below min {spec.min}",
        "max": f"above max {spec.max}",
        "allowed": f"not among the allowed values {spec.allowed}",
        "not_nullable": "null (nullable: false)",
        "field_uniqueness": "duplicated (unique: true)",
    }.get(check, f"fail {check}")


def _rows_problem(rows: int, bounds: RowBounds | None) -> str:
    low = bounds.min if bounds else None
    high = bounds.max if bounds else None
    want = (
        f"between {low} and {high}"
        if low is not None and high is not None
        else f"at least {low}"
        if low is not None
        else f"at most {high}"
    )
    return f"has {rows} rows; the contract wants {want}"


def _plain(value: Any) -> Any:
    """A JSON-safe example value."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def describe(violations: list[Violation], *, data: str, contract: str, rows: int) -> str:
    """The multi-line message a person reads when a registration is refused."""
    lines = [v.line() for v in violations]
    return f"{data} breaks the data contract {contract} ({len(violations)} problem(s), {rows} rows):\n  " + "\n  ".join(
        lines
    )
