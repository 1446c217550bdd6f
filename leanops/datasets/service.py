"""Registering, finding and reading dataset snapshots — every step through the guard.

Registration validates and profiles the data and asks the policy before a single byte is
stored, so a refused or invalid dataset leaves nothing behind. Bytes go to the artifact
store outside the database transaction (an upload must not hold the metadata store's write
lock); the snapshot's records and its audit entry then commit together.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

from leanops.artifacts import ArtifactRef, contained
from leanops.datasets.contract import DataContract, check_frame, describe, load_contract
from leanops.datasets.files import MANIFEST_NAME, Scan, read_table, scan, table_format
from leanops.datasets.profile import ProfileDiff, diff_profiles, profile
from leanops.datasets.snapshot import (
    MIN_PREFIX,
    DataClass,
    Snapshot,
    check_name,
    check_source,
    effective_class,
    file_source_matches,
    looks_like_id,
    parse_data_class,
    source_allowed,
)
from leanops.errors import IntegrityError, NotFound, ValidationError
from leanops.guard import Guard, retrying_races
from leanops.policy import Resource
from leanops.ports import ArtifactStore

if TYPE_CHECKING:
    import pandas as pd

_VERSION_RE = re.compile(r"^v?(\d+)$")
_LIST_HINT = "`leanops data list` shows every dataset, its versions and snapshot ids."


class DatasetRepo(Protocol):
    """Where snapshot records live; one content row, one row per `name@vN`."""

    def add(self, snapshot: Snapshot, *, new_content: bool) -> None: ...
    def get(self, name: str, version: int | None = None) -> Snapshot | None:
        """`name@version`, or the newest version of `name`."""
        ...

    def for_content(self, snapshot_id: str) -> list[Snapshot]:
        """Every registration of one content, oldest first."""
        ...

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]: ...
    def list(self, name: str | None = None) -> list[Snapshot]:
        """Registrations, by name then version, without files and profile."""
        ...


class DatasetDiff(BaseModel):
    """What changed from snapshot `a` to snapshot `b`."""

    a: str
    b: str
    a_id: str
    b_id: str
    identical: bool
    profile: ProfileDiff | None = Field(None, description="Absent unless both sides are tables")
    files_added: list[str] = Field(default_factory=list)
    files_removed: list[str] = Field(default_factory=list)
    files_changed: list[str] = Field(default_factory=list)


def find_snapshot(repo: DatasetRepo, ref: str) -> Snapshot:
    """Resolve a reference: a snapshot id, an id prefix (>= 8 hex characters), `name` (newest
    version) or `name@vN`. A name wins over an id prefix that spells the same."""
    ref = (ref or "").strip()
    if not ref:
        raise ValidationError("An empty dataset reference.", hint="Give a name, name@vN or a snapshot id.")
    name, at, version = ref.rpartition("@")
    if at:
        match = _VERSION_RE.match(version)
        if not match:
            raise ValidationError(f"{ref!r}: {version!r} is not a version.", hint="Write name@v3 (or name@3).")
        found = repo.get(name, int(match.group(1)))
        if found is None:
            latest = repo.get(name)
            hint = f"{name} has versions v1..v{latest.version}." if latest else _LIST_HINT
            raise NotFound(f"No dataset {ref}.", hint=hint)
        return found
    found = repo.get(ref)
    if found is not None:
        return found
    if looks_like_id(ref.lower()):
        ids = repo.ids_with_prefix(ref.lower(), 2)
        if len(ids) > 1:
            raise ValidationError(f"Snapshot id prefix {ref!r} is ambiguous.", hint="Give more characters of the id.")
        if ids:
            return repo.for_content(ids[0])[0]
    short = "" if len(ref) >= MIN_PREFIX else f" An id prefix needs at least {MIN_PREFIX} characters."
    hint = _LIST_HINT + short
    raise NotFound(f"No dataset or snapshot {ref!r}.", hint=hint)


def diff_snapshots(a: Snapshot, b: Snapshot) -> DatasetDiff:
    """What changed; file lists are compared for folders only, as a lone file's name is not content."""
    folders = a.kind == b.kind == "folder"
    files_a = {f.path: f.digest for f in a.files} if folders else {}
    files_b = {f.path: f.digest for f in b.files} if folders else {}
    return DatasetDiff(
        a=a.ref,
        b=b.ref,
        a_id=a.id,
        b_id=b.id,
        identical=a.id == b.id,
        profile=diff_profiles(a.profile, b.profile) if a.profile and b.profile else None,
        files_added=sorted(files_b.keys() - files_a.keys()),
        files_removed=sorted(files_a.keys() - files_b.keys()),
        files_changed=sorted(p for p in files_a.keys() & files_b.keys() if files_a[p] != files_b[p]),
    )


class DatasetService:
    """`ws.datasets`: versioned, validated, classified dataset snapshots."""

    def __init__(self, guard: Guard, artifacts: ArtifactStore, *, allowed_sources: list[str]) -> None:
        self._guard = guard
        self.artifacts = artifacts
        self.allowed_sources = list(allowed_sources)

    # -- writing -------------------------------------------------------------------------

    @retrying_races
    def register(
        self,
        path: str | Path,
        *,
        name: str,
        contract: str | Path | DataContract | None = None,
        data_class: DataClass | str | None = None,
        source: str | None = None,
    ) -> Snapshot:
        """Validate, profile and store a CSV, Parquet file or folder as the next version of `name`.

        The same bytes under the same name return the existing snapshot.

            ws.datasets.register("data/customers.csv", name="customers", contract="customers.yaml")
        """
        check_name(name)
        requested = parse_data_class(data_class) if data_class is not None else None
        spec = contract if isinstance(contract, DataContract) or contract is None else load_contract(Path(contract))
        found = scan(Path(path))
        source = check_source(source) if source is not None else f"file://{found.root.resolve().as_posix()}"
        if source.lower().startswith("file:") and not file_source_matches(source, found.root):
            raise ValidationError(
                f"Source {source!r} is not where the data comes from ({found.root.resolve()}).",
                hint="Leave --source out for local files, or name the real path; the allowlist is checked on it.",
            )
        table = self._table(found, spec, contract)
        stats = profile(table) if table is not None else None

        with self._guard.lookup() as unit:
            registered = unit.datasets.for_content(found.id)
            first = unit.datasets.get(name, 1)
        cls = effective_class(requested, registered[0].data_class if registered else None)
        resource = Resource(type="Dataset", id=name, owner=first.created_by if first else self._guard.actor.name)
        context = {"source_allowed": source_allowed(source, self.allowed_sources), "data_class": str(cls)}
        details: dict[str, Any] = {
            "snapshot": found.id,
            "source": source,
            "data_class": str(cls),
            "rows": stats.rows if stats else None,
            "files": len(found.files),
        }
        self._require("dataset.register", resource, context, details)
        if not registered:
            self._store_bytes(found)

        with self._guard.act("dataset.register", resource, context=context, details=details) as unit:
            unit.lock(f"dataset:{name}")  # versions are numbered in commit order, not in a race
            existing = next((s for s in unit.datasets.for_content(found.id) if s.name == name), None)
            if existing is not None:
                details |= {"existing": True, "version": existing.version}
                return existing
            latest = unit.datasets.get(name)
            snapshot = Snapshot(
                id=found.id,
                name=name,
                version=latest.version + 1 if latest else 1,
                kind=found.kind,
                format=found.format,
                size=found.size,
                rows=stats.rows if stats else None,
                files=found.files,
                data_class=cls,
                source=source,
                contract=spec,
                profile=stats,
                created_at=self._guard.clock.now(),
                created_by=self._guard.actor.name,
                zone=str(self._guard.zone),
            )
            new_content = not unit.datasets.for_content(found.id)
            unit.datasets.add(snapshot, new_content=new_content)
            if new_content:
                for ref in self._refs(found, snapshot):
                    unit.refs.add(ref)
            details["version"] = snapshot.version
        return snapshot

    def _table(self, found: Scan, spec: DataContract | None, contract: object) -> pd.DataFrame | None:
        if found.format == "files":
            if spec is not None:
                kinds = sorted({f.path.rsplit(".", 1)[-1] for f in found.files if not table_format(f.path)})
                raise ValidationError(
                    f"{found.root} is not one table (it holds non-tabular files: {', '.join(kinds)}), "
                    "so a contract cannot apply.",
                    hint="Register a CSV/Parquet file or a folder of one of them, or register without --contract.",
                )
            return None
        table = read_table(found.data_files(), found.format, label=str(found.root))  # type: ignore[arg-type]
        if spec is not None:
            problems = check_frame(table, spec)
            if problems:
                where = str(contract) if not isinstance(contract, DataContract) else "(given)"
                raise ValidationError(
                    describe(problems, data=str(found.root), contract=where, rows=len(table)),
                    hint="Fix the data or the contract; nothing was stored. Rows count from 0, header excluded.",
                    violations=[p.model_dump() for p in problems],
                    rows=len(table),
                )
        return table

    def _require(self, action: str, resource: Resource, context: dict[str, Any], details: dict[str, Any]) -> None:
        """Refuse before any byte is stored; a refusal is audited by `check`, which then raises."""
        if not self._guard.decide(action, resource, self._guard.zone, context).allowed:
            self._guard.check(action, resource, context=context, details=details)

    def _store_bytes(self, found: Scan) -> None:
        for entry in found.files:
            digest = self.artifacts.put_file(found.path(entry))
            if digest != entry.digest:
                raise IntegrityError(
                    f"{found.path(entry)} changed while it was being registered.",
                    hint="Register it again once nothing writes to it.",
                )
        if found.manifest is not None:
            self.artifacts.put_bytes(found.manifest)

    def _refs(self, found: Scan, snapshot: Snapshot) -> list[ArtifactRef]:
        def ref(digest: str, name: str, size: int) -> ArtifactRef:
            return ArtifactRef(
                digest=digest,
                owner_kind="dataset",
                owner_id=snapshot.id,
                name=name,
                size=size,
                zone=snapshot.zone,
                created_at=snapshot.created_at,
                created_by=snapshot.created_by,
            )

        refs = [ref(f.digest, f.path, f.size) for f in found.files]
        if found.manifest is not None:
            refs.append(ref(found.id, MANIFEST_NAME, len(found.manifest)))
        return refs

    # -- reading -------------------------------------------------------------------------

    def resolve(self, ref: str) -> Snapshot:
        """The snapshot a reference names, if this actor may read it here (`NotFound`, `PolicyDenied`).

        For other services: `ws.datasets.resolve("customers@v2")` before a run or job uses it.
        """
        with self._guard.lookup() as unit:
            snapshot = find_snapshot(unit.datasets, ref)
        self._guard.check(
            "dataset.read",
            self.resource(snapshot),
            context={"data_class": str(snapshot.data_class)},
            details={"ref": ref, "dataset": snapshot.ref},
        )
        return snapshot

    get = resolve

    @staticmethod
    def resource(snapshot: Snapshot) -> Resource:
        return Resource(type="Dataset", id=snapshot.id, owner=snapshot.created_by)

    def list(self, name: str | None = None) -> list[Snapshot]:
        """Every registration (or those of `name`), without files and profiles."""
        with self._guard.act("dataset.read", Resource(type="Dataset", id=name or "*"), details={"op": "list"}) as unit:
            return unit.datasets.list(name)

    def diff(self, a: str, b: str) -> DatasetDiff:
        """Schema and profile differences from `a` to `b`: `ws.datasets.diff("customers@v1", "customers")`."""
        return diff_snapshots(self.resolve(a), self.resolve(b))

    def load(self, ref: str) -> pd.DataFrame:
        """The snapshot's table, read from verified bytes: `ws.datasets.load("customers@v2")`."""
        snapshot = self.resolve(ref)
        if not snapshot.tabular:
            raise ValidationError(
                f"{snapshot.ref} is a folder of files, not a table.",
                hint="Use ws.datasets.checkout(ref, folder) to get its files.",
            )
        with tempfile.TemporaryDirectory(prefix="leanops-load-") as tmp:
            folder = self._fetch(snapshot, Path(tmp))
            paths = [folder / f.path for f in snapshot.files if table_format(f.path)]
            return read_table(paths, snapshot.format, label=snapshot.ref)  # type: ignore[arg-type]

    def checkout(self, ref: str, dest: str | Path) -> Path:
        """Write the snapshot's files, verified, under `dest` (which must be empty or absent)."""
        snapshot = self.resolve(ref)
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ValidationError(f"{dest} is not an empty folder.", hint="Check out into a new folder.")
        return self._fetch(snapshot, dest)

    def _fetch(self, snapshot: Snapshot, folder: Path) -> Path:
        for entry in snapshot.files:
            self.artifacts.get_file(entry.digest, contained(folder, entry.path))
        return folder
