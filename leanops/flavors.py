"""Saving and loading models by flavor, with an input/output signature — and never pickle.

    package = save_model(model, Path("out/model"), input_example=X_train)
    model = load_model(Path("out/model"))

A package is a folder: the model file(s) plus `leanops-model.json`, the manifest naming the
flavor, the signature and the library versions it was saved with. Flavors:

- `sklearn`: scikit-learn estimators and pipelines, written with skops. Loading lists the
  types the file would build and refuses any outside an allowlist of scikit-learn, NumPy and
  SciPy types, so a tampered file cannot run code.
- `python_function`: a module-level function (or class) stored by its import path, not its
  bytes; loading imports it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from leanops.errors import IntegrityError, NotFound, ValidationError

MANIFEST_FILE = "leanops-model.json"
SIGNATURE_ROWS = 5

# Module prefixes whose types a skops file may build without the caller vouching for them.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "scipy.special.")
TRUSTED_TYPES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.bytes",
        "builtins.slice",
        "builtins.NoneType",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)


class ColumnSpec(BaseModel):
    name: str
    dtype: str


class TensorSpec(BaseModel):
    dtype: str
    shape: list[int] = Field(description="-1 marks the batch dimension")


class Signature(BaseModel):
    """What a model takes and returns: named columns (from a DataFrame) or a tensor (an array)."""

    inputs: list[ColumnSpec] | TensorSpec
    outputs: TensorSpec


class ModelManifest(BaseModel):
    flavor: str
    files: dict[str, str] = Field(default_factory=dict, description="role -> path inside the package")
    loader: str | None = Field(None, description="module:qualname, for python_function")
    signature: Signature | None = None
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    libraries: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class ModelPackage:
    path: Path
    manifest: ModelManifest


class Flavor(Protocol):
    name: str

    def accepts(self, model: Any) -> bool: ...
    def save(self, model: Any, folder: Path) -> ModelManifest: ...
    def load(self, folder: Path, manifest: ModelManifest, trusted: Iterable[str]) -> Any: ...


class SklearnFlavor:
    name = "sklearn"
    file = "model.skops"

    def accepts(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:
            return False
        return isinstance(model, BaseEstimator)

    def save(self, model: Any, folder: Path) -> ModelManifest:
        import skops.io

        skops.io.dump(model, folder / self.file)
        return ModelManifest(
            flavor=self.name, files={"model": self.file}, libraries=_versions("scikit-learn", "skops", "numpy", "scipy")
        )

    def load(self, folder: Path, manifest: ModelManifest, trusted: Iterable[str]) -> Any:
        import skops.io

        path = folder / manifest.files.get("model", self.file)
        if not path.is_file():
            raise NotFound(f"The model package at {folder} has no {path.name}.")
        vouched = set(trusted)
        found = skops.io.get_untrusted_types(file=path)
        refused = sorted(t for t in found if t not in vouched and not is_trusted_type(t))
        if refused:
            raise IntegrityError(
                f"The model file {path} would build types outside the allowlist: {', '.join(refused)}.",
                hint="If you wrote and trust these types, pass them in trusted=[...]; never load models you did not make.",
                refused=refused,
            )
        return skops.io.load(path, trusted=list(found))


class FunctionFlavor:
    """A function or class importable by name: the package stores where it lives, not its code."""

    name = "python_function"

    def accepts(self, model: Any) -> bool:
        return callable(model) and _import_path(model) is not None

    def save(self, model: Any, folder: Path) -> ModelManifest:
        return ModelManifest(flavor=self.name, loader=_import_path(model))

    def load(self, folder: Path, manifest: ModelManifest, trusted: Iterable[str]) -> Any:
        """Import the named loader only when the caller vouches for it: a manifest is data, and
        importing a module a stranger named would run the stranger's code."""
        if not manifest.loader:
            raise IntegrityError(f"The python_function package at {folder} names no loader.")
        if manifest.loader not in set(trusted):
            raise IntegrityError(
                f"The model at {folder} asks to import {manifest.loader!r}, which nobody vouched for.",
                hint=f"If you wrote it and trust it, load with trusted=[{manifest.loader!r}].",
            )
        module_name, _, qualname = manifest.loader.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise NotFound(
                f"Cannot import {manifest.loader} for the model at {folder}: {exc}.",
                hint="Install the package that defines it.",
            ) from None
        return target


FLAVORS: dict[str, Flavor] = {f.name: f for f in (SklearnFlavor(), FunctionFlavor())}


def flavor_for(model: Any) -> Flavor:
    for flavor in FLAVORS.values():
        if flavor.accepts(model):
            return flavor
    raise ValidationError(
        f"No flavor can save a {type(model).__module__}.{type(model).__qualname__}.",
        hint="Log a scikit-learn estimator or pipeline, or a module-level function or class.",
    )


def save_model(model: Any, folder: Path, input_example: Any = None) -> ModelPackage:
    """Write `model` into `folder` by its flavor, with the signature inferred from `input_example`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise ValidationError(f"{folder} is not empty; a model package needs a folder of its own.")
    flavor = flavor_for(model)
    manifest = flavor.save(model, folder)
    if input_example is not None:
        manifest.signature = infer_signature(model, input_example)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2))
    return ModelPackage(path=folder, manifest=manifest)


def read_manifest(folder: Path) -> ModelManifest:
    path = Path(folder) / MANIFEST_FILE
    try:
        return ModelManifest.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"No model package at {folder} (no {MANIFEST_FILE}).") from None
    except ValueError as exc:
        raise IntegrityError(f"{path} is not a valid model manifest: {exc}.") from None


def load_model(folder: Path, manifest: ModelManifest | None = None, *, trusted: Iterable[str] = ()) -> Any:
    """Rebuild the model saved in `folder`; `trusted` vouches for extra types (sklearn flavor)."""
    manifest = manifest or read_manifest(folder)
    flavor = FLAVORS.get(manifest.flavor)
    if flavor is None:
        raise ValidationError(f"Unknown model flavor {manifest.flavor!r}.", hint=f"Known: {', '.join(FLAVORS)}.")
    return flavor.load(Path(folder), manifest, trusted)


def infer_signature(model: Any, input_example: Any) -> Signature:
    """Inputs from the example's columns and dtypes (or array shape); outputs from predicting
    on its first rows."""
    import numpy as np
    import pandas as pd

    if isinstance(input_example, pd.DataFrame):
        head = input_example.iloc[:SIGNATURE_ROWS]
        inputs: list[ColumnSpec] | TensorSpec = [ColumnSpec(name=str(c), dtype=str(t)) for c, t in head.dtypes.items()]
    elif isinstance(input_example, np.ndarray | list):
        array = np.asarray(input_example)
        head = array[:SIGNATURE_ROWS]
        inputs = TensorSpec(dtype=str(array.dtype), shape=[-1, *array.shape[1:]])
    else:
        raise ValidationError(
            f"input_example must be a pandas DataFrame or a NumPy array, not {type(input_example).__name__}."
        )
    predict: Callable[[Any], Any] = model.predict if hasattr(model, "predict") else model
    try:
        output = np.asarray(predict(head))
    except Exception as exc:  # noqa: BLE001 - any failure here means the example does not fit the model
        raise ValidationError(f"The model cannot predict on input_example: {type(exc).__name__}: {exc}.") from None
    return Signature(inputs=inputs, outputs=TensorSpec(dtype=str(output.dtype), shape=[-1, *output.shape[1:]]))


def is_trusted_type(name: str) -> bool:
    """A type a skops file may build unasked: listed, or a *class* (never a function) of the
    trusted libraries that is an estimator, a NumPy scalar or array type, or a SciPy sparse
    matrix. A prefix alone trusted `numpy.load` and the like."""
    if name in TRUSTED_TYPES:
        return True
    if not name.startswith(TRUSTED_PREFIXES):
        return False
    return _trusted_class(name)


@lru_cache(maxsize=1024)
def _trusted_class(name: str) -> bool:
    import numpy as np
    from sklearn.base import BaseEstimator

    module_name, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return False
    if not isinstance(obj, type):
        return False
    if issubclass(obj, BaseEstimator | np.generic | np.ndarray | np.dtype):
        return True
    if name.startswith("scipy.sparse."):
        from scipy.sparse import sparray, spmatrix

        return issubclass(obj, spmatrix | sparray)
    return name in SKLEARN_INTERNALS


# Cython and helper classes estimators keep inside them (not estimators themselves).
SKLEARN_INTERNALS = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.utils._bunch.Bunch",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
    }
)


def _import_path(obj: Any) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _versions(*names: str) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


__all__ = [
    "FLAVORS",
    "MANIFEST_FILE",
    "ColumnSpec",
    "ModelManifest",
    "ModelPackage",
    "Signature",
    "TensorSpec",
    "flavor_for",
    "infer_signature",
    "is_trusted_type",
    "load_model",
    "read_manifest",
    "save_model",
]
