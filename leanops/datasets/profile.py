"""The statistical profile of a table: the reference drift monitoring compares against.

`profile(df)` is pure and deterministic (same table, same profile), so a snapshot's profile
can be recomputed from its bytes at any time and compared field by field.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

QUANTILES = (5, 25, 50, 75, 95)
BINS = 20
TOP = 20


class Histogram(BaseModel):
    edges: list[float] = Field(description="BINS + 1 bin edges, ascending")
    counts: list[int]


class Category(BaseModel):
    value: str
    count: int
    frequency: float = Field(description="Share of the column's non-null values")


class ColumnProfile(BaseModel):
    name: str
    dtype: str
    kind: Literal["numeric", "boolean", "datetime", "categorical"]
    count: int = Field(description="Non-null values")
    nulls: int
    null_rate: float
    distinct: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = Field(default_factory=dict, description="p5, p25, p50, p75, p95")
    histogram: Histogram | None = None
    first: str | None = Field(None, description="Earliest timestamp (datetime columns)")
    last: str | None = None
    top: list[Category] = Field(default_factory=list, description="Most frequent values (non-numeric columns)")


class DatasetProfile(BaseModel):
    rows: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)


def profile(df: pd.DataFrame, *, bins: int = BINS, top: int = TOP) -> DatasetProfile:
    """Rows and per-column statistics of `df`; infinities are left out of numeric statistics."""
    return DatasetProfile(rows=len(df), columns=[_column(str(name), df[name], bins, top) for name in df.columns])


def _column(name: str, series: pd.Series, bins: int, top: int) -> ColumnProfile:
    nulls = int(series.isna().sum())
    rows = len(series)
    base = {
        "name": name,
        "dtype": str(series.dtype),
        "count": rows - nulls,
        "nulls": nulls,
        "null_rate": nulls / rows if rows else 0.0,
    }
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric or pd.api.types.is_datetime64_any_dtype(series):
        base["distinct"] = int(series.nunique(dropna=True))
        if numeric:
            return ColumnProfile(kind="numeric", **base, **_numeric(series, bins))
        present = series.dropna()
        first, last = (present.min().isoformat(), present.max().isoformat()) if len(present) else (None, None)
        return ColumnProfile(kind="datetime", **base, first=first, last=last)
    counts = _counts(series)
    kind = "boolean" if pd.api.types.is_bool_dtype(series) else "categorical"
    return ColumnProfile(kind=kind, **base, distinct=len(counts), top=_top(counts, top))


def _numeric(series: pd.Series, bins: int) -> dict[str, object]:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[np.isfinite(values)]
    if not len(values):
        return {}
    qs = np.percentile(values, QUANTILES)
    counts, edges = np.histogram(values, bins=bins)
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "quantiles": {f"p{q}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
        "histogram": Histogram(edges=edges.tolist(), counts=counts.tolist()),
    }


def _counts(series: pd.Series) -> pd.Series:
    """Value counts, most frequent first; unhashable values (lists from Parquet) count as text."""
    present = series.dropna()
    try:
        return present.value_counts()
    except TypeError:
        return present.astype(str).value_counts()


def _top(counts: pd.Series, top: int) -> list[Category]:
    """The `top` most frequent values; ties are broken by the value's text, so the choice is stable."""
    total = int(counts.sum())
    if len(counts) > top:
        freq = counts.to_numpy()
        cutoff = freq[top - 1]
        start, end = int((freq > cutoff).sum()), int((freq >= cutoff).sum())
        tied = counts.index[start:end].astype(str).sort_values()[: top - start]
        pairs = [(str(v), int(c)) for v, c in counts.iloc[:start].items()] + [(v, int(cutoff)) for v in tied]
    else:
        pairs = [(str(v), int(c)) for v, c in counts.items()]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return [Category(value=v, count=c, frequency=c / total) for v, c in pairs]


# -- comparing ----------------------------------------------------------------------------


class DtypeChange(BaseModel):
    column: str
    a: str
    b: str


class ColumnChange(BaseModel):
    """How one column present on both sides moved."""

    column: str
    null_rate_a: float
    null_rate_b: float
    mean_a: float | None = None
    mean_b: float | None = None

    @property
    def changed(self) -> bool:
        return self.null_rate_a != self.null_rate_b or self.mean_a != self.mean_b


class ProfileDiff(BaseModel):
    rows_a: int
    rows_b: int
    added: list[str] = Field(default_factory=list, description="Columns only in b")
    removed: list[str] = Field(default_factory=list, description="Columns only in a")
    dtype_changes: list[DtypeChange] = Field(default_factory=list)
    columns: list[ColumnChange] = Field(default_factory=list, description="Columns in both, in b's order")

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.dtype_changes)


def diff_profiles(a: DatasetProfile, b: DatasetProfile) -> ProfileDiff:
    """Schema differences (added, removed, retyped columns) and row, null-rate and mean changes."""
    names_a = {c.name: c for c in a.columns}
    names_b = {c.name: c for c in b.columns}
    both = [c for c in b.columns if c.name in names_a]
    return ProfileDiff(
        rows_a=a.rows,
        rows_b=b.rows,
        added=[c.name for c in b.columns if c.name not in names_a],
        removed=[c.name for c in a.columns if c.name not in names_b],
        dtype_changes=[
            DtypeChange(column=c.name, a=names_a[c.name].dtype, b=c.dtype)
            for c in both
            if names_a[c.name].dtype != c.dtype
        ],
        columns=[
            ColumnChange(
                column=c.name,
                null_rate_a=names_a[c.name].null_rate,
                null_rate_b=c.null_rate,
                mean_a=names_a[c.name].mean,
                mean_b=c.mean,
            )
            for c in both
        ],
    )
