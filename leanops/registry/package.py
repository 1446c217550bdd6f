"""A version's package bytes: its manifest, re-verified hashes, and the model rebuilt from them.

Hashes are checked whenever a version is registered, evaluated, promoted or rolled back to,
so a blob that changed on disk stops a release instead of reaching a zone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from leanops.artifacts import contained
from leanops.errors import IntegrityError, NotFound
from leanops.flavors import MANIFEST_FILE, ModelManifest, load_model
from leanops.ports import ArtifactStore
from leanops.registry.models import Manifest, PackageFile


def verify_package(artifacts: ArtifactStore, files: Iterable[PackageFile], what: str) -> None:
    """Re-hash every file; `IntegrityError` names the file that changed or went missing."""
    for f in files:
        try:
            artifacts.verify(f.digest)
        except IntegrityError as exc:
            raise IntegrityError(
                f"The package of {what} is damaged: {f.path} no longer matches its hash ({exc.message})",
                hint="It cannot be registered, promoted or rolled back to; `leanops fsck` lists all damage.",
                file=f.path,
                digest=f.digest,
            ) from None
        except NotFound:
            raise IntegrityError(
                f"The package of {what} is incomplete: {f.path} is missing from the artifact store.",
                hint="`leanops fsck` lists all damage.",
                file=f.path,
                digest=f.digest,
            ) from None


def read_manifest(artifacts: ArtifactStore, files: list[PackageFile], run_id: str) -> Manifest:
    """The registry manifest of a logged model: the flavor's manifest plus every file's hash."""
    entry = next((f for f in files if f.path == MANIFEST_FILE), None)
    if entry is None:
        raise IntegrityError(f"The model of run {run_id} has no {MANIFEST_FILE}; log it with run.log_model.")
    try:
        package = ModelManifest.model_validate_json(artifacts.get_bytes(entry.digest))
    except ValueError as exc:
        raise IntegrityError(f"The model manifest of run {run_id} is not valid: {exc}.") from None
    return Manifest(flavor=package.flavor, signature=package.signature, files=files, package=package)


def load_package(artifacts: ArtifactStore, manifest: Manifest, trusted: Iterable[str] = ()) -> Any:
    """The model object, rebuilt from verified bytes by its flavor (never unpickled)."""
    with tempfile.TemporaryDirectory(prefix="leanops-model-") as tmp:
        for f in manifest.files:
            artifacts.get_file(f.digest, contained(Path(tmp), f.path))
        return load_model(Path(tmp), manifest.package, trusted=trusted)
