"""The statistics monitoring compares with, computed against a snapshot's stored profile so the
reference data is never reloaded: PSI and Jensen-Shannon distance over the profile's bins, a
KS statistic against the CDF the histogram implies, chi-square over the top categories; and
for labelled windows ECE, Brier, accuracy, AUC and MAE.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import stats
from scipy.spatial.distance import jensenshannon

from leanops.datasets.profile import ColumnProfile

EPS = 1e-4  # share given to an empty bin, so PSI stays finite (the usual convention)
PSI_BANDS = (0.1, 0.2)  # < 0.1 no change, 0.1-0.2 moderate, >= 0.2 significant


class FeatureDrift(BaseModel):
    feature: str
    psi: float
    band: str
    js_distance: float
    test: str  # ks | chi2
    statistic: float
    p_value: float
    rows: int


def band(psi: float) -> str:
    return "none" if psi < PSI_BANDS[0] else "moderate" if psi < PSI_BANDS[1] else "significant"


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected / max(expected.sum(), 1), EPS, None)
    a = np.clip(actual / max(actual.sum(), 1), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(live: pd.Series, ref: ColumnProfile) -> FeatureDrift | None:
    if ref.histogram is None:
        return None
    edges = np.asarray(ref.histogram.edges, dtype=float)
    expected = np.asarray(ref.histogram.counts, dtype=float)
    values = pd.to_numeric(live, errors="coerce").dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return None
    inner = np.clip(values, edges[0], edges[-1])  # values beyond the reference range count in its end bins
    actual, _ = np.histogram(inner, bins=edges)
    # KS against the reference CDF the histogram implies (piecewise linear within bins).
    cdf_ref = np.interp(np.sort(values), edges, np.concatenate([[0.0], np.cumsum(expected) / expected.sum()]))
    n = len(values)
    ecdf_hi, ecdf_lo = np.arange(1, n + 1) / n, np.arange(0, n) / n
    d = float(max(np.max(ecdf_hi - cdf_ref), np.max(cdf_ref - ecdf_lo)))
    m = ref.count
    p_value = float(stats.kstwo.sf(d, round(n * m / (n + m)))) if m else math.nan
    return FeatureDrift(
        feature=ref.name,
        psi=psi(expected, actual.astype(float)),
        band="",
        js_distance=_js(expected, actual),
        test="ks",
        statistic=d,
        p_value=p_value,
        rows=n,
    )


def _categorical(live: pd.Series, ref: ColumnProfile) -> FeatureDrift | None:
    values = live.dropna().astype(str)
    if len(values) == 0 or not ref.top:
        return None
    known = [c.value for c in ref.top]
    expected = np.array([c.frequency for c in ref.top] + [max(1 - sum(c.frequency for c in ref.top), 0.0)])
    counts = values.value_counts()
    actual = np.array([counts.get(v, 0) for v in known] + [int(counts[~counts.index.isin(known)].sum())], float)
    keep = expected > 0
    exp_counts = np.clip(expected[keep], EPS, None)
    exp_counts = exp_counts / exp_counts.sum() * actual[keep].sum()
    chi = stats.chisquare(actual[keep], exp_counts) if keep.sum() > 1 else None
    return FeatureDrift(
        feature=ref.name,
        psi=psi(expected, actual),
        band="",
        js_distance=_js(expected, actual),
        test="chi2",
        statistic=float(chi.statistic) if chi else 0.0,
        p_value=float(chi.pvalue) if chi else 1.0,
        rows=len(values),
    )


def _js(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.sum() == 0 or actual.sum() == 0:
        return 0.0
    return float(jensenshannon(expected / expected.sum(), actual / actual.sum(), base=2))


def drift(live: pd.Series, ref: ColumnProfile) -> FeatureDrift | None:
    """One feature's drift against its reference profile; None when either side has no data."""
    found = _numeric(live, ref) if ref.kind == "numeric" else _categorical(live, ref)
    return found.model_copy(update={"band": band(found.psi)}) if found else None


# -- labelled windows -----------------------------------------------------------------------


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float | list[list[float]] | None]:
    """Expected calibration error (equal-width bins, count-weighted), Brier score and the
    reliability curve [(mean predicted, observed rate, count)], for a binary label."""
    if len(y) == 0:
        return {"ece": None, "brier": None, "curve": []}
    which = np.minimum((p * bins).astype(int), bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            conf, rate = float(p[mask].mean()), float(y[mask].mean())
            ece += mask.mean() * abs(conf - rate)
            curve.append([conf, rate, float(mask.sum())])
    return {"ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "curve": curve}


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    if len(set(y.tolist())) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))
