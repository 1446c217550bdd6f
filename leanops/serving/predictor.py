"""A loaded model version behind its signature: validate a payload, predict, explain refusals.

Payloads come as records (`{"records": [{"age": 41, "plan": "pro"}]}`), as columns
(`{"columns": {"age": [41], "plan": ["pro"]}}`) or, for array-trained models, as rows
(`{"inputs": [[0.1, 2.0]]}`). Every problem is reported at once, per field, the way a
client can fix it: `[{"loc": ["records", 0, "age"], "msg": "expected a number, got 'x'"}]`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leanops.errors import ValidationError
from leanops.flavors import ColumnSpec, TensorSpec
from leanops.registry.models import ModelVersion


class PayloadError(ValidationError):
    """The payload does not fit the model's signature; `errors` lists each field's problem."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        shown = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"The input does not fit the model's signature: {shown}{more}.", errors=errors)
        self.errors = errors


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(kind: str, value: Any) -> str | None:
    """Why `value` cannot go in a column of NumPy dtype kind `kind`, or None when it can."""
    if kind == "f":
        return None if value is None or _number(value) else f"expected a number, got {value!r}"
    if kind in "iu":
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"expected an integer, got {value!r}"
    if kind == "b":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind in "OUS":
        return None if value is None or isinstance(value, str) else f"expected a string, got {value!r}"
    return None  # datetimes and the like: pandas converts or the model refuses


def _kind(dtype: str) -> str:
    try:
        return np.dtype(dtype).kind
    except TypeError:
        return "O"  # pandas-only dtypes (string, category): strings


@dataclass
class Features:
    """A request's rows as the model takes them, and the validated columns for the log."""

    data: pd.DataFrame | np.ndarray
    columns: dict[str, list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.data)


def _by_position(model: Any, names: list[str]) -> Any | None:
    """A view of `model` that takes a NumPy matrix in signature order, when that is safe.

    scikit-learn spends most of a one-row prediction checking DataFrame feature names; the
    signature check has already matched names and order, so a plain estimator (not a
    pipeline or column transformer, which select columns by name) fitted on exactly these
    columns can take the matrix. None when the model is not such an estimator."""
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None or list(fitted) != names or hasattr(model, "steps") or hasattr(model, "transformers"):
        return None
    view = copy.copy(model)  # shallow: the fitted arrays are shared, not copied
    del view.feature_names_in_
    return view


@dataclass
class Predictor:
    """One version, loaded and verified, ready to predict."""

    version: ModelVersion
    model: Any
    max_rows: int = 10_000
    columns: list[ColumnSpec] | None = field(init=False)
    tensor: TensorSpec | None = field(init=False)
    classes: list[Any] | None = field(init=False)

    def __post_init__(self) -> None:
        signature = self.version.manifest.signature
        inputs = signature.inputs if signature else None
        self.columns = inputs if isinstance(inputs, list) else None
        self.tensor = inputs if isinstance(inputs, TensorSpec) else None
        self._kinds = {c.name: _kind(c.dtype) for c in self.columns or []}
        self._dtypes = {c.name: c.dtype for c in self.columns or []}
        classes = getattr(self.model, "classes_", None)
        self.classes = [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None
        numeric = bool(self._kinds) and all(k in "fiub" for k in self._kinds.values())
        self._fast = _by_position(self.model, list(self._kinds)) if numeric else None
        self._predict = self.estimator.predict
        self._proba = getattr(self.estimator, "predict_proba", None) if self.classes is not None else None

    @property
    def estimator(self) -> Any:
        """What predictions are made with: the model, or its by-position view."""
        return self._fast if self._fast is not None else self.model

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def number(self) -> int:
        return self.version.version

    def frame(self, payload: Any) -> Features:
        """The model's input from a request body, or a `PayloadError` listing every problem."""
        if not isinstance(payload, Mapping):
            raise PayloadError([{"loc": [], "msg": "the body must be a JSON object with records, columns or inputs"}])
        given = [k for k in ("records", "columns", "inputs") if k in payload]
        if len(given) != 1:
            raise PayloadError([{"loc": [], "msg": "give exactly one of records, columns or inputs"}])
        key = given[0]
        if key == "inputs":
            return Features(self._array(payload["inputs"]))
        if self.columns is None:
            raise PayloadError([{"loc": [key], "msg": "this model takes an array: send inputs, a list of rows"}])
        columns = self._from_records(payload[key]) if key == "records" else self._from_columns(payload[key])
        if self._fast is not None:
            rows = zip(*(columns[name] for name in self._kinds), strict=True)
            matrix = np.array([[math.nan if v is None else v for v in row] for row in rows], dtype=float)
            return Features(matrix, columns)
        return Features(pd.DataFrame({name: self._column(name, columns[name]) for name in self._kinds}), columns)

    def features(self, frame: pd.DataFrame) -> Features:
        """A DataFrame already holding the signature's columns (batch scoring), as model input."""
        frame = frame[list(self._kinds)]
        return Features(frame.to_numpy(dtype=float) if self._fast is not None else frame)

    def _from_records(self, records: Any) -> dict[str, list[Any]]:
        if not isinstance(records, list) or not records:
            raise PayloadError([{"loc": ["records"], "msg": "expected a non-empty list of objects"}])
        self._check_rows(len(records), "records")
        errors: list[dict[str, Any]] = []
        out: dict[str, list[Any]] = {name: [] for name in self._kinds}
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                errors.append({"loc": ["records", i], "msg": "expected an object of column: value"})
                continue
            errors += [{"loc": ["records", i, k], "msg": "unknown column"} for k in record if k not in self._kinds]
            for name, kind in self._kinds.items():
                if name not in record:
                    errors.append({"loc": ["records", i, name], "msg": "missing column"})
                elif (why := _check(kind, value := record[name])) is not None:
                    errors.append({"loc": ["records", i, name], "msg": why})
                else:
                    out[name].append(value)
        if errors:
            raise PayloadError(errors)
        return out

    def _from_columns(self, columns: Any) -> dict[str, list[Any]]:
        if not isinstance(columns, Mapping):
            raise PayloadError([{"loc": ["columns"], "msg": "expected an object of column: list of values"}])
        errors = [{"loc": ["columns", k], "msg": "unknown column"} for k in columns if k not in self._kinds]
        errors += [{"loc": ["columns", n], "msg": "missing column"} for n in self._kinds if n not in columns]
        lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
        if -1 in lengths:
            errors.append({"loc": ["columns"], "msg": "every column must be a list of values"})
        elif len(lengths) > 1:
            errors.append({"loc": ["columns"], "msg": f"columns differ in length: {sorted(lengths)}"})
        elif lengths == {0}:
            errors.append({"loc": ["columns"], "msg": "no rows"})
        if errors:
            raise PayloadError(errors)
        self._check_rows(lengths.pop(), "columns")
        for name, kind in self._kinds.items():
            errors += [
                {"loc": ["columns", name, i], "msg": why}
                for i, value in enumerate(columns[name])
                if (why := _check(kind, value)) is not None
            ]
        if errors:
            raise PayloadError(errors)
        return {name: columns[name] for name in self._kinds}

    def _column(self, name: str, values: list[Any]) -> Any:
        kind = self._kinds[name]
        if kind == "f":
            return np.array([math.nan if v is None else v for v in values], dtype=self._dtypes[name])
        if kind in "iub":
            return np.array(values, dtype=self._dtypes[name])
        return values

    def _array(self, rows: Any) -> np.ndarray:
        width = self.tensor.shape[1] if self.tensor and len(self.tensor.shape) == 2 else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise PayloadError([{"loc": ["inputs"], "msg": "expected a non-empty list of rows (lists of numbers)"}])
        self._check_rows(len(rows), "inputs")
        errors = [
            {"loc": ["inputs", i], "msg": f"expected {width} values, got {len(r)}"}
            for i, r in enumerate(rows)
            if width not in (None, -1) and len(r) != width
        ]
        errors += [
            {"loc": ["inputs", i, j], "msg": f"expected a number, got {v!r}"}
            for i, r in enumerate(rows)
            for j, v in enumerate(r)
            if not _number(v)
        ]
        if errors:
            raise PayloadError(errors)
        return np.asarray(rows, dtype=self.tensor.dtype if self.tensor else float)

    def _check_rows(self, n: int, key: str) -> None:
        if n > self.max_rows:
            raise PayloadError([{"loc": [key], "msg": f"{n} rows; at most {self.max_rows} per request"}])

    def predict(self, features: Features) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions, and class probabilities where the model has them (rows align)."""
        predictions = np.asarray(self._predict(features.data)).tolist()
        probabilities = np.asarray(self._proba(features.data)).tolist() if self._proba is not None else None
        return predictions, probabilities
