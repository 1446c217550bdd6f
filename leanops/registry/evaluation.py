"""Gathering evidence: metrics on the evaluation snapshot, the test command, monitoring config.

Each function returns data, never prints; the service turns the results into evidence items.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from leanops.config import read_yaml
from leanops.errors import ConfigError, ValidationError
from leanops.process import allowed_environment
from leanops.registry.rules import (
    CLASSIFICATION_METRICS,
    LATENCY_METRIC,
    EvaluationSpec,
    PromotionRules,
)

if TYPE_CHECKING:
    import pandas as pd

OUTPUT_LIMIT = 4000
MONITORING_DIR = "monitoring"


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """A model's predict: the estimator's method, or the python_function itself."""
    return model.predict if hasattr(model, "predict") else model


def compute_metrics(
    model: Any,
    frame: pd.DataFrame,
    spec: EvaluationSpec,
    wanted: Iterable[str],
    input_columns: list[str] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """The `wanted` metrics of `model` on `frame` (the evaluation snapshot's table)."""
    import numpy as np

    wanted = set(wanted)
    if not wanted:
        return {}
    features = _features(frame, spec, input_columns)
    predict = predict_fn(model)
    out: dict[str, float] = {}
    quality = wanted - {LATENCY_METRIC}
    if quality:
        y_true = frame[spec.target].to_numpy()
        y_pred = np.asarray(_call(predict, features))
        out |= _quality(model, features, y_true, y_pred, quality)
    if LATENCY_METRIC in wanted:
        out[LATENCY_METRIC] = latency_p95_ms(predict, features, spec.batch_size, spec.latency_batches, timer)
    return out


def _features(frame: pd.DataFrame, spec: EvaluationSpec, input_columns: list[str] | None) -> pd.DataFrame:
    if spec.target is not None and spec.target not in frame.columns:
        raise ValidationError(
            f"The evaluation dataset {spec.dataset} has no target column {spec.target!r}.",
            hint=f"Its columns: {', '.join(map(str, frame.columns))}.",
        )
    if input_columns:
        absent = [c for c in input_columns if c not in frame.columns]
        if absent:
            raise ValidationError(
                f"The evaluation dataset {spec.dataset} lacks the model's input column(s) {', '.join(absent)}.",
                hint="Evaluate on a snapshot with the columns the model was trained on.",
            )
        return frame[input_columns]
    return frame.drop(columns=[spec.target]) if spec.target is not None else frame


def _call(predict: Callable[[Any], Any], features: Any) -> Any:
    try:
        return predict(features)
    except Exception as exc:  # noqa: BLE001 - any failure means the model cannot score this data
        raise ValidationError(
            f"The model failed to predict on the evaluation data: {type(exc).__name__}: {exc}."
        ) from None


def _quality(model: Any, features: Any, y_true: Any, y_pred: Any, wanted: set[str]) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    out: dict[str, float] = {}
    labels = np.unique(y_true)
    average = "binary" if len(labels) == 2 else "macro"
    pos = labels[-1] if len(labels) == 2 else 1
    for name in sorted(wanted):
        if name in CLASSIFICATION_METRICS and name != "auc":
            fn = {
                "accuracy": m.accuracy_score,
                "f1": m.f1_score,
                "precision": m.precision_score,
                "recall": m.recall_score,
            }[name]
            kwargs = {} if name == "accuracy" else {"average": average, "zero_division": 0}
            if name != "accuracy" and average == "binary":
                kwargs["pos_label"] = pos
            out[name] = float(fn(y_true, y_pred, **kwargs))
        elif name == "auc":
            out[name] = _auc(model, features, y_true, y_pred, labels)
        elif name == "rmse":
            out[name] = float(np.sqrt(m.mean_squared_error(y_true, y_pred)))
        elif name == "mae":
            out[name] = float(m.mean_absolute_error(y_true, y_pred))
        elif name == "r2":
            out[name] = float(m.r2_score(y_true, y_pred))
    return out


def _auc(model: Any, features: Any, y_true: Any, y_pred: Any, labels: Any) -> float:
    """ROC AUC from probabilities (or decision scores); binary uses the positive class's column."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    if len(labels) < 2:
        return float("nan")
    if hasattr(model, "predict_proba"):
        scores = np.asarray(_call(model.predict_proba, features))
    elif hasattr(model, "decision_function"):
        scores = np.asarray(_call(model.decision_function, features))
    else:
        scores = np.asarray(y_pred, dtype=float)
    if len(labels) == 2:
        return float(roc_auc_score(y_true, scores[:, -1] if scores.ndim == 2 else scores))
    return float(roc_auc_score(y_true, scores, multi_class="ovr"))


def latency_p95_ms(
    predict: Callable[[Any], Any],
    features: Any,
    batch_size: int,
    batches: int,
    timer: Callable[[], float] = time.perf_counter,
) -> float:
    """The 95th percentile of wall time per predict call on batches of `batch_size` rows."""
    import numpy as np

    rows = len(features)
    if rows == 0:
        raise ValidationError("The evaluation dataset is empty; latency cannot be measured.")
    size = min(batch_size, rows)
    _call(predict, features.iloc[:size] if hasattr(features, "iloc") else features[:size])  # warm-up
    times = []
    for i in range(batches):
        start = (i * size) % max(rows - size + 1, 1)
        batch = features.iloc[start : start + size] if hasattr(features, "iloc") else features[start : start + size]
        t0 = timer()
        _call(predict, batch)
        times.append((timer() - t0) * 1000.0)
    return float(np.percentile(times, 95))


class TestOutcome(BaseModel):
    command: str
    exit_code: int | None
    passed: bool
    duration_seconds: float
    output: str
    timed_out: bool = False


def run_test_command(command: str, cwd: Path, timeout: float, env: Mapping[str, str] | None = None) -> TestOutcome:
    """Run the rules' test command without a shell; keep the exit code and the output's tail."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return TestOutcome(
            command=command,
            exit_code=None,
            passed=False,
            duration_seconds=0.0,
            output=f"cannot parse the command: {exc}",
        )
    if not argv:
        return TestOutcome(command=command, exit_code=None, passed=False, duration_seconds=0.0, output="empty command")
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=allowed_environment(os.environ, leanops=env or {}),  # none of the evaluator's credentials
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            shell=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        return TestOutcome(
            command=command,
            exit_code=None,
            passed=False,
            timed_out=True,
            duration_seconds=round(time.monotonic() - started, 3),
            output=_tail(f"{output}\n[timed out after {timeout:g}s]"),
        )
    except OSError as exc:
        return TestOutcome(
            command=command,
            exit_code=None,
            passed=False,
            duration_seconds=0.0,
            output=f"cannot run {argv[0]!r}: {exc.strerror or exc}",
        )
    return TestOutcome(
        command=command,
        exit_code=done.returncode,
        passed=done.returncode == 0,
        duration_seconds=round(time.monotonic() - started, 3),
        output=_tail(done.stdout + done.stderr),
    )


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _tail(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return f"[… {len(text) - OUTPUT_LIMIT} characters cut]\n" + text[-OUTPUT_LIMIT:]


def monitoring_config(root: Path, name: str, rules: PromotionRules) -> tuple[bool, dict[str, Any]]:
    """Monitoring readiness: `monitoring/<name>.yaml` exists and parses to a non-empty mapping,
    or the rules carry a non-empty `monitoring:` section."""
    shown = f"{MONITORING_DIR}/{name}.yaml"
    path = root / shown
    if path.is_file():
        try:
            data = read_yaml(path)
        except ConfigError as exc:
            return False, {"source": shown, "error": exc.message}
        return bool(data), {"source": shown, "keys": sorted(map(str, data))}
    if rules.monitoring:
        return True, {"source": "rules: monitoring", "keys": sorted(map(str, rules.monitoring))}
    return False, {"source": None, "looked_for": [shown, "rules: monitoring"]}
