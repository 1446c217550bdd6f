"""The predictor's by-position fast path: only for plain estimators fitted on the signature's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leanops.serving.predictor import _by_position

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
Y = [0, 0, 1, 1]


def test_a_plain_estimator_takes_the_matrix_and_answers_the_same() -> None:
    model = LogisticRegression().fit(X, Y)
    view = _by_position(model, ["a", "b"])
    assert view is not None and hasattr(model, "feature_names_in_")  # the original is untouched
    assert view.predict_proba(X.to_numpy()).tolist() == model.predict_proba(X).tolist()


def test_pipelines_other_columns_and_unnamed_fits_keep_the_dataframe_path() -> None:
    assert _by_position(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y), ["a", "b"]) is None
    assert _by_position(LogisticRegression().fit(X, Y), ["b", "a"]) is None
    assert _by_position(LogisticRegression().fit(np.asarray(X), Y), ["a", "b"]) is None
