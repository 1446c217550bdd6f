"""Model flavors: skops for scikit-learn with an allowlist on load, import paths for functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leanops import flavors
from leanops.errors import IntegrityError, NotFound, ValidationError


def frame(n: int = 40) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, n), "spend": rng.random(n) * 100})
    return X, (X["spend"] > 50).to_numpy().astype(int)


class Custom(BaseEstimator):
    """An estimator from outside scikit-learn: its type is not on the allowlist."""

    def fit(self, X, y=None):  # noqa: ANN001, ANN201
        self.mean_ = np.asarray(X).mean()
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.full(len(X), self.mean_)


def double(x):  # noqa: ANN001, ANN201
    return np.asarray(x) * 2


def test_sklearn_round_trip_with_dataframe_signature(tmp_path: Path) -> None:
    X, y = frame()
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, y)
    package = flavors.save_model(model, tmp_path / "m", input_example=X)
    manifest = package.manifest
    assert manifest.flavor == "sklearn" and (tmp_path / "m" / "model.skops").is_file()
    assert [(c.name, c.dtype) for c in manifest.signature.inputs] == [("age", "int64"), ("spend", "float64")]
    assert manifest.signature.outputs.dtype == "int64" and manifest.signature.outputs.shape == [-1]
    assert "scikit-learn" in manifest.libraries and "skops" in manifest.libraries
    assert flavors.read_manifest(tmp_path / "m") == manifest
    loaded = flavors.load_model(tmp_path / "m")  # sklearn.tree._tree.Tree is allowlisted
    assert (loaded.predict(X) == model.predict(X)).all()
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "m").iterdir())


def test_array_signature(tmp_path: Path) -> None:
    X, y = frame()
    model = LogisticRegression().fit(X.to_numpy(dtype=float), y)
    package = flavors.save_model(model, tmp_path / "m", input_example=X.to_numpy(dtype=float))
    assert package.manifest.signature.inputs == flavors.TensorSpec(dtype="float64", shape=[-1, 2])


def test_types_outside_the_allowlist_are_refused_unless_vouched_for(tmp_path: Path) -> None:
    X, _ = frame()
    flavors.save_model(Custom().fit(X), tmp_path / "m")
    with pytest.raises(IntegrityError, match="test_flavors.Custom") as err:
        flavors.load_model(tmp_path / "m")
    assert err.value.details["refused"] == [f"{__name__}.Custom"]
    model = flavors.load_model(tmp_path / "m", trusted=[f"{__name__}.Custom"])
    assert model.predict(X[:2]).shape == (2,)


def test_function_flavor_stores_an_import_path_not_code(tmp_path: Path) -> None:
    package = flavors.save_model(double, tmp_path / "f", input_example=np.ones((3, 2)))
    assert package.manifest.flavor == "python_function"
    assert package.manifest.loader == f"{__name__}:double"
    assert package.manifest.signature.outputs.shape == [-1, 2]
    with pytest.raises(IntegrityError, match="nobody vouched for"):
        flavors.load_model(tmp_path / "f")  # a manifest is data: it never picks what gets imported
    assert flavors.load_model(tmp_path / "f", trusted=[f"{__name__}:double"]) is double


@pytest.mark.parametrize("name", ["numpy.load", "sklearn.utils._joblib.load", "numpy.lib.npyio.load", "os.system"])
def test_functions_of_trusted_libraries_are_not_trusted_types(name: str) -> None:
    assert not flavors.is_trusted_type(name)


@pytest.mark.parametrize("name", ["sklearn.linear_model._logistic.LogisticRegression", "numpy.float64", "numpy.dtype"])
def test_estimators_and_numpy_types_are(name: str) -> None:
    assert flavors.is_trusted_type(name)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="No flavor"):
        flavors.save_model(object(), tmp_path / "x")
    with pytest.raises(ValidationError, match="No flavor"):
        flavors.save_model(lambda x: x, tmp_path / "y")  # not importable by name
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other").write_text("x")
    with pytest.raises(ValidationError, match="not empty"):
        flavors.save_model(double, tmp_path / "full")
    X, y = frame()
    with pytest.raises(ValidationError, match="cannot predict"):
        flavors.save_model(LogisticRegression().fit(X.to_numpy(), y), tmp_path / "z", input_example=np.ones((2, 5)))
    with pytest.raises(ValidationError, match="DataFrame or a NumPy array"):
        flavors.save_model(double, tmp_path / "w", input_example="text")
    with pytest.raises(NotFound):
        flavors.load_model(tmp_path / "nothing")
