"""`leanops.sklearn.autolog()`: every scikit-learn `fit` logs itself to the active run.

    import leanops.sklearn
    leanops.sklearn.autolog()
    with leanops.start_run(purpose="baseline", datasets=["customers"]) as run:
        model = LogisticRegression(C=0.5).fit(X, y)   # params, training score and model logged

Outside a run, a `fit` opens one of its own (purpose "autolog: <Estimator>.fit") and ends it.
Only the outermost `fit` logs: a pipeline's or a search's inner fits stay quiet. The model
is saved with skops, never pickle. Logging problems warn instead of breaking the fit.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any

from leanops.errors import Conflict, LeanopsError

_patched: dict[type, Callable[..., Any]] = {}
_state = threading.local()
_options: dict[str, Any] = {}


def autolog(*, log_models: bool = True, workspace: Any = None, disable: bool = False) -> None:
    """Patch `fit` on every scikit-learn estimator (or undo it with `disable=True`).

    `workspace` is used when a fit has to open its own run (default: the project found from
    the working directory).
    """
    if disable:
        for cls, fit in _patched.items():
            cls.fit = fit  # type: ignore[method-assign]
        _patched.clear()
        return
    _options.update(log_models=log_models, workspace=workspace)
    from sklearn.utils import all_estimators

    for _, estimator in all_estimators():
        # Patch the class that defines `fit` (GridSearchCV inherits it from BaseSearchCV).
        owner = next((k for k in estimator.__mro__ if "fit" in k.__dict__), None)
        if owner is not None and owner not in _patched and not getattr(owner.fit, "__leanops_autolog__", False):
            _patched[owner] = owner.__dict__["fit"]
            owner.fit = _wrap(owner.__dict__["fit"])  # type: ignore[method-assign]


def _wrap(fit: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fit)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "depth", 0):
            return fit(self, *args, **kwargs)
        _state.depth = 1
        try:
            result = fit(self, *args, **kwargs)
        finally:
            _state.depth = 0
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        try:
            _log_fit(self, X, y)
        except LeanopsError as exc:
            warnings.warn(f"leanops autolog could not log {type(self).__name__}.fit: {exc}", stacklevel=2)
        return result

    patched.__leanops_autolog__ = True  # type: ignore[attr-defined]
    return patched


def _log_fit(estimator: Any, X: Any, y: Any) -> None:
    from leanops.runs import active_run, start_run

    run = active_run()
    opened = run is None
    if run is None:
        run = start_run(purpose=f"autolog: {type(estimator).__name__}.fit", workspace=_options.get("workspace"))
    try:
        _log_params(run, estimator)
        if y is not None and hasattr(estimator, "score"):
            # Quiet the estimator's own fit while scoring: some scorers refit or predict through pipelines.
            _state.depth = 1
            try:
                run.log_metric("training_score", float(estimator.score(X, y)))
            except Exception as exc:  # noqa: BLE001 - a score that cannot be computed is simply not logged
                warnings.warn(f"leanops autolog could not score {type(estimator).__name__}: {exc}", stacklevel=3)
            finally:
                _state.depth = 0
        if _options.get("log_models", True):
            _log_model(run, estimator, X)
    except BaseException:
        if opened:
            run.end("failed")
        raise
    if opened:
        run.end()


def _log_params(run: Any, estimator: Any) -> None:
    params = {k: v for k, v in estimator.get_params(deep=False).items()}
    fresh = {k: v for k, v in params.items() if k not in run.record.params}
    clashes = [k for k in params if k in run.record.params and run.record.params[k] != str(params[k])]
    run.log_params(fresh)
    if clashes:
        warnings.warn(
            f"leanops autolog kept the first value of params {', '.join(clashes)} in run {run.id}", stacklevel=4
        )


def _log_model(run: Any, estimator: Any, X: Any) -> None:
    example = X[:5] if X is not None and hasattr(X, "__getitem__") and not hasattr(X, "iloc") else None
    if hasattr(X, "iloc"):
        example = X.iloc[:5]
    name = "model"
    for n in range(2, 100):
        try:
            run.log_model(estimator, name, input_example=example)
            return
        except Conflict:
            name = f"model-{n}"


__all__ = ["autolog"]
