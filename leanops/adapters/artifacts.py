"""Content-addressed artifact store on fsspec: a local folder by default, S3-compatible by URL.

Layout under the root: ``sha256/<first 2 hex>/<other 62 hex>`` holds blobs and ``tmp/`` holds
local writes in progress. A blob reaches its final name only when it is complete and its hash
is known, so a listing never shows half a blob, whatever kills the writer.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from leanops.errors import ConfigError, IntegrityError, NotFound, StoreUnavailable, ValidationError
from leanops.ports import ArtifactStore

CHUNK_SIZE = 1 << 20
ENDPOINT_ENV = "LEANOPS_S3_ENDPOINT_URL"
SPOOL_PREFIX = "leanops-spool-"

# S3 caps an upload at 10,000 parts; 8 MiB parts keep memory bounded up to ~80 GB objects.
_PART_SIZE = 8 << 20
REUSE_REFRESH_SECONDS = 3600.0  # an object-store blob reused after this long is uploaded again
_MAX_PARTS = 10_000
_DIGEST = re.compile(r"[0-9a-f]{64}")
_SECRET_WORDS = ("key", "secret", "token", "password")
_SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_USERINFO = re.compile(r"://[^/@\s]+@")
_FSCK_HINT = "run `leanops fsck` to list damaged blobs, then restore them from backup"


def check_digest(digest: str) -> str:
    """Return `digest` if it is 64 lowercase hex chars; this also keeps keys inside the root."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        shown = digest[:80] if isinstance(digest, str) else digest
        raise ValidationError(f"{shown!r} is not a sha256 digest", hint="a digest is 64 lowercase hex characters")
    return digest


def blob_not_found(digest: str, url: str) -> NotFound:
    return NotFound(f"no blob sha256:{digest} in artifact store {url}", digest=digest, store=url)


def blob_corrupt(digest: str, url: str, detail: str) -> IntegrityError:
    return IntegrityError(
        f"blob sha256:{digest} in artifact store {url} is corrupt: {detail}",
        hint=_FSCK_HINT,
        digest=digest,
        store=url,
    )


def verified_chunks(chunks: Iterable[bytes], digest: str, url: str) -> Iterator[bytes]:
    """Pass `chunks` through, then raise `IntegrityError` unless they hashed to `digest`."""
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk
    if hasher.hexdigest() != digest:
        raise blob_corrupt(digest, url, f"its bytes hash to {hasher.hexdigest()}")


def open_source(path: Path) -> BinaryIO:
    """Open a file to store, with errors that name it rather than blaming the store."""
    try:
        return open(path, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise NotFound(f"no file to store at {path}") from exc
    except IsADirectoryError as exc:
        raise ValidationError(f"{path} is a directory; only files can be stored") from exc


def write_file_atomically(dest: Path, chunks: Iterable[bytes]) -> Path:
    """Write `chunks` beside `dest` under a temp name, fsync, rename; if `chunks` raises, `dest`
    keeps its old content (a verifying iterator therefore never leaves a bad copy behind)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "xb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(dest.parent)
    return dest


def _fsync_dir(path: str | Path) -> None:
    """Make a rename durable: on POSIX the new directory entry survives a crash only once synced."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else "file"


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not sep or "@" not in netloc:
        return url
    return f"{scheme}://***@{netloc.rpartition('@')[2]}{slash}{path}"


def _secrets(options: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found += _secrets(value)
        elif isinstance(value, str) and value and any(w in name.lower() for w in _SECRET_WORDS):
            found.append(value)
    return found


def _backend_errors() -> tuple[type[BaseException], ...]:
    """What a storage backend raises when it cannot serve a request; botocore's errors are not
    OSErrors, so they are added when an S3 stack is installed."""
    errors: list[type[BaseException]] = [OSError]
    with suppress(ImportError):
        from botocore.exceptions import BotoCoreError

        errors.append(BotoCoreError)
    return tuple(errors)


class FsspecArtifactStore:
    """Blobs keyed by sha256 in a local folder (`file:///abs/path` or a plain path) or under an
    S3-compatible prefix (`s3://bucket/prefix`).

    `storage_options` go to the fsspec filesystem; for S3 that is s3fs (`endpoint_url`, `key`,
    `secret`, `client_kwargs`, …), and `LEANOPS_S3_ENDPOINT_URL` supplies an endpoint when none
    is given. No I/O happens until the first call.
    """

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.url = _redact(url)
        options = dict(storage_options or {})
        if _scheme(url) == "s3":
            endpoint = os.environ.get(ENDPOINT_ENV)
            given = "endpoint_url" in options or "endpoint_url" in options.get("client_kwargs", {})
            if endpoint and not given:
                options["endpoint_url"] = endpoint
            # Other processes write to the same bucket; a cached listing would hide their blobs.
            options.setdefault("use_listings_cache", False)
        self._secrets = [*_secrets(options), *filter(None, map(os.environ.get, _SECRET_ENV))]
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **options)
        except ImportError as exc:
            raise ConfigError(
                f"artifact store {self.url} needs a package that is not installed: {exc.name}",
                hint="for s3:// URLs install `leanops[s3]`",
            ) from exc
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"artifact store {self.url} cannot be opened: {self._scrub(str(exc))}") from exc
        self._root = root.rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)
        self._s3 = "s3" in self._fs.protocol
        self._errors = (OSError,) if self._local else _backend_errors()

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self.url!r})"

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its sha256 hex digest. Storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        if self._intact(digest, len(data)):
            return digest
        if self._local:
            return self._put_local([data])
        path = self._blob_path(digest)
        with self._backend():
            self._fs.pipe_file(path, bytes(data))
        self._check_uploaded(digest, len(data))
        return digest

    def put_file(self, path: Path) -> str:
        """Stream a file into the store in 1 MiB chunks; return its digest."""
        with open_source(path) as source:
            chunks = iter(lambda: source.read(CHUNK_SIZE), b"")
            return self._put_local(chunks) if self._local else self._put_remote(chunks)

    def get_bytes(self, digest: str) -> bytes:
        """The verified bytes of a blob (`NotFound`, `IntegrityError`)."""
        with self._backend(check_digest(digest)):
            data = self._fs.cat_file(self._blob_path(digest))
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise blob_corrupt(digest, self.url, f"its bytes hash to {actual}")
        return data

    def get_file(self, digest: str, dest: Path) -> Path:
        """Copy a blob to `dest` through a temp name; `dest` appears only if the hash matches."""
        return write_file_atomically(Path(dest), self._chunks(check_digest(digest)))

    def exists(self, digest: str) -> bool:
        return self._stat(check_digest(digest)) is not None

    def size(self, digest: str) -> int:
        size = self._stat(check_digest(digest))
        if size is None:
            raise blob_not_found(digest, self.url)
        return size

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob; raise `IntegrityError` if its bytes changed."""
        for _ in self._chunks(check_digest(digest)):
            pass

    def delete(self, digest: str) -> None:
        """Remove a blob (`NotFound` if absent; S3 deletes silently, so look first)."""
        self.size(digest)
        with self._backend(digest):
            self._fs.rm_file(self._blob_path(digest))

    def digests(self) -> Iterator[str]:
        """Every stored digest; names that are not blobs (temp files, strays) are skipped."""
        with self._backend():
            paths = self._fs.find(f"{self._root}/sha256")
        for path in paths:
            fan, name = path.split("/")[-2:]
            if len(fan) == 2 and _DIGEST.fullmatch(fan + name):
                yield fan + name

    def temp_files(self) -> list[tuple[str, int]]:
        """Half-written temp files (path, bytes) a killed writer left: what fsck and gc report."""
        folder = Path(self._root) / "tmp" if self._local else Path(tempfile.gettempdir())
        prefix = "" if self._local else SPOOL_PREFIX
        found: list[tuple[str, int]] = []
        with suppress(FileNotFoundError):
            for entry in os.scandir(folder):
                if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                    with suppress(FileNotFoundError):
                        found.append((entry.path, entry.stat(follow_symlinks=False).st_size))
        return found

    def sweep_temp(self, older_than_seconds: float = 24 * 3600) -> int:
        """Remove what killed writers left behind, untouched for `older_than_seconds`; return how
        many: local temp files, local S3 spool files, and incomplete S3 multipart uploads."""
        cutoff = time.time() - older_than_seconds
        if self._local:
            return _remove_stale(Path(self._root) / "tmp", "", cutoff)
        removed = _remove_stale(Path(tempfile.gettempdir()), SPOOL_PREFIX, cutoff)
        if self._s3:
            removed += self._abort_uploads(datetime.fromtimestamp(cutoff, UTC))
        return removed

    def _blob_path(self, digest: str) -> str:
        return f"{self._root}/sha256/{digest[:2]}/{digest[2:]}"

    def modified_at(self, digest: str) -> datetime:
        """When the blob was last written or reused: gc keeps blobs younger than its grace period."""
        info = self._info(check_digest(digest))
        if info is None:
            raise blob_not_found(digest, self.url)
        return _modified(info)

    def _info(self, digest: str) -> dict[str, Any] | None:
        try:
            with self._backend(digest):
                return dict(self._fs.info(self._blob_path(digest)))
        except NotFound:
            return None

    def _stat(self, digest: str) -> int | None:
        info = self._info(digest)
        return None if info is None else int(info["size"])

    def _intact(self, digest: str, size: int) -> bool:
        """A blob counts as stored when its size matches; a truncated one is written again.

        Reusing a blob refreshes its age, so a gc that runs between this check and the
        writer's reference being committed sees a young blob and keeps it. Object stores cannot
        touch an object, so one older than `REUSE_REFRESH_SECONDS` is uploaded again instead."""
        info = self._info(digest)
        if info is None or int(info["size"]) != size:
            return False
        if self._local:
            with suppress(OSError):
                os.utime(self._blob_path(digest))
            return True
        return time.time() - _modified(info).timestamp() < REUSE_REFRESH_SECONDS

    def _chunks(self, digest: str) -> Iterator[bytes]:
        options = {} if self._local else {"block_size": _PART_SIZE}
        with self._backend(digest):
            blob = self._fs.open(self._blob_path(digest), "rb", **options)
        with blob:

            def read() -> bytes:
                with self._backend(digest):
                    return blob.read(CHUNK_SIZE)

            yield from verified_chunks(iter(read, b""), digest, self.url)

    def _put_local(self, chunks: Iterable[bytes]) -> str:
        """Write under `tmp/` on the same filesystem, fsync, check the length on disk, then
        rename: the rename is atomic, and the name is the hash of exactly the bytes written."""
        tmp_dir = os.path.join(self._root, "tmp")
        tmp = os.path.join(tmp_dir, f"{uuid.uuid4().hex}.part")
        try:
            with self._backend():
                os.makedirs(tmp_dir, exist_ok=True)
                out = open(tmp, "xb")  # noqa: SIM115
            with out:
                digest, size = self._spool(chunks, out)
            with self._backend():
                written = os.path.getsize(tmp)
            if written != size:
                raise self._write_failed(digest, f"{written} of {size} bytes reached the disk")
            if not self._intact(digest, size):
                fan = os.path.dirname(self._blob_path(digest))
                with self._backend():
                    new_fan = not os.path.isdir(fan)
                    os.makedirs(fan, exist_ok=True)
                    os.replace(tmp, self._blob_path(digest))
                    _fsync_dir(fan)
                    if new_fan:
                        _fsync_dir(os.path.dirname(fan))
            return digest
        finally:
            with suppress(FileNotFoundError):
                os.unlink(tmp)

    def _put_remote(self, chunks: Iterable[bytes]) -> str:
        """Spool locally while hashing, then upload once: an object store shows an object only
        when its single PUT or multipart upload completes, so no temp key is needed."""
        with self._backend():
            fd, spool = tempfile.mkstemp(prefix=SPOOL_PREFIX)
        try:
            with open(fd, "wb") as out:
                digest, size = self._spool(chunks, out)
            if not self._intact(digest, size):
                options = {"chunksize": max(_PART_SIZE, -(-size // _MAX_PARTS))} if self._s3 else {}
                with self._backend():
                    self._fs.put_file(spool, self._blob_path(digest), **options)
                self._check_uploaded(digest, size)
            return digest
        finally:
            with suppress(FileNotFoundError):
                os.unlink(spool)

    def _spool(self, chunks: Iterable[bytes], out: BinaryIO) -> tuple[str, int]:
        """Copy `chunks` to `out` while hashing; only writes count as store errors, so a failing
        source file surfaces as itself."""
        hasher, size = hashlib.sha256(), 0
        for chunk in chunks:
            hasher.update(chunk)
            size += len(chunk)
            with self._backend():
                out.write(chunk)
        with self._backend():
            out.flush()
            os.fsync(out.fileno())
        return hasher.hexdigest(), size

    def _check_uploaded(self, digest: str, size: int) -> None:
        stored = self._stat(digest)
        if stored != size:
            with suppress(*self._errors):
                self._fs.rm_file(self._blob_path(digest))
            raise self._write_failed(digest, f"the upload left {stored} of {size} bytes")

    def _write_failed(self, digest: str, detail: str) -> IntegrityError:
        return IntegrityError(
            f"storing blob sha256:{digest} in artifact store {self.url} failed: {detail}",
            hint="nothing was stored; check the storage's free space and health, then retry",
            digest=digest,
            store=self.url,
        )

    def _abort_uploads(self, initiated_before: datetime) -> int:
        bucket, key, _ = self._fs.split_path(self._root)
        prefix = f"{key}/sha256/" if key else "sha256/"
        stale: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        with self._backend():
            while True:
                page = self._fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix, **markers)
                stale += [u for u in page.get("Uploads", []) if u["Initiated"] < initiated_before]
                if not page.get("IsTruncated"):
                    break
                markers = {
                    "KeyMarker": page["NextKeyMarker"],
                    "UploadIdMarker": page["NextUploadIdMarker"],
                }
            for upload in stale:
                self._fs.call_s3(
                    "abort_multipart_upload",
                    Bucket=bucket,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
        return len(stale)

    @contextmanager
    def _backend(self, digest: str | None = None) -> Iterator[None]:
        """Translate backend failures once: a missing blob is `NotFound`, anything else that
        stops the backend is `StoreUnavailable`, with secrets scrubbed from the message."""
        try:
            yield
        except FileNotFoundError as exc:
            if digest is not None:
                raise blob_not_found(digest, self.url) from exc
            raise self._unavailable(exc) from exc
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"artifact store {self.url} is unavailable ({type(exc).__name__}: {self._scrub(str(exc))})",
            hint="check that the storage is reachable and writable, and that the artifact URL "
            "and credentials (leanops.yaml, LEANOPS_*, AWS_* variables) are right",
            store=self.url,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _USERINFO.sub("://***@", text)


def _modified(info: Mapping[str, Any]) -> datetime:
    """A listing entry's modification time: `mtime` (seconds) locally, `LastModified` on S3."""
    stamp = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    if stamp is None:
        return datetime.now(UTC)  # unknown: treat as young, so it is never deleted early
    return datetime.fromtimestamp(float(stamp), UTC)


def _remove_stale(folder: Path, prefix: str, cutoff: float) -> int:
    removed = 0
    with suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if not entry.name.startswith(prefix) or not entry.is_file(follow_symlinks=False):
                continue
            with suppress(FileNotFoundError, PermissionError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _fsspec_store(url: str, options: dict[str, Any]) -> ArtifactStore:
    return FsspecArtifactStore(url, storage_options=options)


def _memory_store(url: str, options: dict[str, Any]) -> ArtifactStore:
    # Imported here because the in-memory store reuses this module's digest rules.
    from leanops.adapters.memory import MemoryArtifactStore

    if options:
        raise ConfigError(f"artifact store {url} takes no storage options, got {sorted(options)}")
    return MemoryArtifactStore(url)


ARTIFACT_SCHEMES: dict[str, Callable[[str, dict[str, Any]], ArtifactStore]] = {
    "file": _fsspec_store,
    "memory": _memory_store,
    "s3": _fsspec_store,
}


def artifact_store_from_url(url: str, **storage_options: Any) -> ArtifactStore:
    """Build the artifact store a URL names, e.g. ``artifact_store_from_url("s3://bucket/art")``."""
    scheme = _scheme(url)
    factory = ARTIFACT_SCHEMES.get(scheme)
    if factory is None:
        raise ConfigError(
            f"artifact URL {_redact(url)} has unknown scheme {scheme!r}",
            hint=f"use one of: {', '.join(f'{s}://' for s in sorted(ARTIFACT_SCHEMES))} (a plain path means file://)",
        )
    return factory(url, storage_options)


__all__ = [
    "ARTIFACT_SCHEMES",
    "CHUNK_SIZE",
    "ENDPOINT_ENV",
    "FsspecArtifactStore",
    "artifact_store_from_url",
    "blob_corrupt",
    "blob_not_found",
    "check_digest",
    "open_source",
    "verified_chunks",
    "write_file_atomically",
]
