from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import s3fs

from leanops.adapters.artifacts import (
    CHUNK_SIZE,
    ENDPOINT_ENV,
    FsspecArtifactStore,
    artifact_store_from_url,
)
from leanops.adapters.memory import FixedClock, MemoryArtifactStore
from leanops.errors import ConfigError, IntegrityError, NotFound, StoreUnavailable, ValidationError
from leanops.ports import ArtifactStore

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Backend:
    store: Any
    corrupt: Callable[[str, bytes], None]


def _local(tmp_path: Path) -> Backend:
    root = tmp_path / "store"

    def corrupt(digest: str, data: bytes) -> None:
        (root / "sha256" / digest[:2] / digest[2:]).write_bytes(data)

    return Backend(FsspecArtifactStore(f"file://{root}"), corrupt)


def _memory() -> Backend:
    store = MemoryArtifactStore()
    return Backend(store, store._corrupt)


def _s3(bucket: str, options: dict[str, Any]) -> Backend:
    prefix = f"{bucket}/{uuid.uuid4().hex}"
    outside = s3fs.S3FileSystem(**options, skip_instance_cache=True)

    def corrupt(digest: str, data: bytes) -> None:
        outside.pipe_file(f"{prefix}/sha256/{digest[:2]}/{digest[2:]}", data)

    return Backend(FsspecArtifactStore(f"s3://{prefix}", storage_options=options), corrupt)


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return _local(tmp_path)
    if request.param == "memory":
        return _memory()
    return _s3(request.getfixturevalue("s3_bucket"), request.getfixturevalue("s3_options"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_stores_satisfy_the_port(backend: Backend) -> None:
    assert isinstance(backend.store, ArtifactStore)


def test_round_trip(backend: Backend) -> None:
    store = backend.store
    digest = store.put_bytes(b"weights v1")

    assert digest == sha(b"weights v1")
    assert store.get_bytes(digest) == b"weights v1"
    assert store.exists(digest)
    assert store.size(digest) == len(b"weights v1")
    store.verify(digest)


def test_empty_blob_round_trips(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"")
    assert backend.store.get_bytes(digest) == b""


def test_same_bytes_are_stored_once(backend: Backend) -> None:
    store = backend.store
    first = store.put_bytes(b"same")
    assert store.put_bytes(b"same") == first
    assert list(store.digests()) == [first]


def test_storing_existing_bytes_refreshes_but_does_not_rewrite_the_local_blob(tmp_path: Path) -> None:
    store = _local(tmp_path).store
    source = tmp_path / "model.bin"
    source.write_bytes(b"same")
    digest = store.put_bytes(b"same")
    blob = tmp_path / "store" / "sha256" / digest[:2] / digest[2:]
    os.utime(blob, (time.time() - 86400, time.time() - 86400))
    before = blob.stat()

    assert store.put_bytes(b"same") == digest
    assert store.put_file(source) == digest
    after = blob.stat()
    assert after.st_ino == before.st_ino  # the same file, not a copy
    assert store.modified_at(digest) > datetime.now(UTC) - timedelta(minutes=1)  # reuse counts as fresh for gc
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_modified_at_is_when_a_blob_was_last_stored(backend: Backend) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    digest = backend.store.put_bytes(b"aged")
    assert started <= backend.store.modified_at(digest) <= datetime.now(UTC) + timedelta(seconds=5)
    with pytest.raises(NotFound):
        backend.store.modified_at(sha(b"never stored"))


def test_put_file_and_get_file_stream_a_multi_mib_file(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    data = os.urandom(5 * CHUNK_SIZE + 123)
    source.write_bytes(data)

    digest = backend.store.put_file(source)
    dest = backend.store.get_file(digest, tmp_path / "out" / "model.bin")

    assert digest == sha(data)
    assert dest.read_bytes() == data
    assert backend.store.size(digest) == len(data)
    backend.store.verify(digest)


def test_local_store_never_holds_a_whole_file_in_memory(tmp_path: Path) -> None:
    store = _local(tmp_path).store
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(24):
            out.write(os.urandom(CHUNK_SIZE))

    tracemalloc.start()
    try:
        digest = store.put_file(source)
        store.verify(digest)
        store.get_file(digest, tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * CHUNK_SIZE
    assert (tmp_path / "copy.bin").stat().st_size == 24 * CHUNK_SIZE


def test_corrupted_blob_fails_every_read(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    digest = store.put_bytes(b"original bytes")
    backend.corrupt(digest, b"tampered bytes")

    with pytest.raises(IntegrityError) as caught:
        store.get_bytes(digest)
    assert digest in str(caught.value)
    assert store.url in str(caught.value)
    assert "leanops fsck" in str(caught.value)
    assert "backup" in str(caught.value)
    with pytest.raises(IntegrityError):
        store.verify(digest)


def test_truncated_blob_is_detected(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"0123456789")
    backend.corrupt(digest, b"01234")
    with pytest.raises(IntegrityError):
        backend.store.verify(digest)


def test_get_file_verifies_and_leaves_dest_untouched(backend: Backend, tmp_path: Path) -> None:
    digest = backend.store.put_bytes(b"good bytes")
    backend.corrupt(digest, b"evil bytes")
    dest = tmp_path / "out" / "model.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"previous copy")

    with pytest.raises(IntegrityError):
        backend.store.get_file(digest, dest)

    assert dest.read_bytes() == b"previous copy"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.bin"]


def test_storing_again_repairs_a_truncated_blob(backend: Backend) -> None:
    digest = backend.store.put_bytes(b"0123456789")
    backend.corrupt(digest, b"01234")
    backend.store.put_bytes(b"0123456789")
    assert backend.store.get_bytes(digest) == b"0123456789"


def test_unknown_digest_is_not_found(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    missing = sha(b"never stored")

    assert not store.exists(missing)
    for call in (
        lambda: store.get_bytes(missing),
        lambda: store.get_file(missing, tmp_path / "dest.bin"),
        lambda: store.size(missing),
        lambda: store.verify(missing),
        lambda: store.delete(missing),
    ):
        with pytest.raises(NotFound, match=missing):
            call()
    assert not (tmp_path / "dest.bin").exists()


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "ab/../../../../etc/passwd" + "0" * 40,
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 64 + "\n",
        "g" * 64,
        "",
    ],
)
def test_invalid_digest_is_rejected(backend: Backend, bad: str, tmp_path: Path) -> None:
    store = backend.store
    for call in (
        lambda: store.get_bytes(bad),
        lambda: store.get_file(bad, tmp_path / "dest.bin"),
        lambda: store.exists(bad),
        lambda: store.size(bad),
        lambda: store.verify(bad),
        lambda: store.delete(bad),
    ):
        with pytest.raises(ValidationError):
            call()


def test_digests_lists_exactly_the_stored_blobs(backend: Backend) -> None:
    store = backend.store
    assert list(store.digests()) == []
    kept = {store.put_bytes(b"a"), store.put_bytes(b"b")}
    gone = store.put_bytes(b"c")
    store.delete(gone)

    assert set(store.digests()) == kept
    assert not store.exists(gone)


def test_digests_skip_temp_files_and_strays(tmp_path: Path) -> None:
    store = _local(tmp_path).store
    digest = store.put_bytes(b"real")
    root = tmp_path / "store"
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp" / f"{uuid.uuid4().hex}.part").write_bytes(b"half")
    (root / "sha256" / "zz").mkdir()
    (root / "sha256" / "zz" / ("0" * 62)).write_bytes(b"stray")
    (root / "sha256" / digest[:2] / ".DS_Store").write_bytes(b"stray")

    assert list(store.digests()) == [digest]


def test_sweep_temp_keeps_fresh_temp_files(tmp_path: Path) -> None:
    store = _local(tmp_path).store
    store.put_bytes(b"x")
    fresh = tmp_path / "store" / "tmp" / "writer.part"
    fresh.write_bytes(b"in progress")

    assert store.sweep_temp(older_than_seconds=3600) == 0
    assert fresh.exists()
    old = time.time() - 7200
    os.utime(fresh, (old, old))
    assert store.sweep_temp(older_than_seconds=3600) == 1
    assert not fresh.exists()


def test_put_file_of_a_missing_source_names_the_source(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no file to store"):
        backend.store.put_file(tmp_path / "absent.bin")


def test_factory_picks_the_store_by_scheme(tmp_path: Path) -> None:
    assert isinstance(artifact_store_from_url(str(tmp_path)), FsspecArtifactStore)
    assert isinstance(artifact_store_from_url(f"file://{tmp_path}"), FsspecArtifactStore)
    assert isinstance(artifact_store_from_url("memory://"), MemoryArtifactStore)
    s3 = artifact_store_from_url("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9")
    assert isinstance(s3, FsspecArtifactStore)


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        artifact_store_from_url("ftp://user:hunter2@host/artifacts")
    text = str(caught.value)
    assert "'ftp'" in text
    assert all(f"{scheme}://" in text for scheme in ("file", "memory", "s3"))
    assert "hunter2" not in text


def test_memory_scheme_rejects_storage_options() -> None:
    with pytest.raises(ConfigError):
        artifact_store_from_url("memory://", endpoint_url="http://x")


@pytest.mark.s3
def test_unreachable_s3_is_store_unavailable() -> None:
    closed_port = _closed_port()
    store = FsspecArtifactStore(
        "s3://bucket/prefix",
        storage_options={
            "endpoint_url": f"http://127.0.0.1:{closed_port}",
            "key": "AKIDEXAMPLE",
            "secret": "do-not-print-this-secret",
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        },
    )
    for call in (
        lambda: store.put_bytes(b"x"),
        lambda: store.get_bytes(sha(b"x")),
        lambda: list(store.digests()),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        text = str(caught.value)
        assert "s3://bucket/prefix" in text
        assert "do-not-print-this-secret" not in text
        assert "AKIDEXAMPLE" not in text


@pytest.mark.s3
def test_s3_endpoint_comes_from_the_environment(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, s3_endpoint)
    store = artifact_store_from_url(f"s3://{s3_bucket}/{uuid.uuid4().hex}", key="testing", secret="testing")
    assert store.get_bytes(store.put_bytes(b"via env")) == b"via env"


def test_fixed_clock_moves_only_when_told() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.advance(hours=2) == start + timedelta(hours=2)
    assert clock.now() == start + timedelta(hours=2)
    with pytest.raises(ValueError):
        FixedClock(datetime(2025, 3, 1))


# A killed writer: the child streams put_file and is SIGKILLed while the write is in progress.
# Feeding the child from a FIFO makes "in progress" deterministic: it blocks waiting for bytes
# that never come, with part of the blob already written to its temp file or spool.

_CHILD = """
import json, sys
from pathlib import Path
from leanops.adapters.artifacts import FsspecArtifactStore
url, options, source = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
FsspecArtifactStore(url, storage_options=options).put_file(Path(source))
"""


def _spawn_writer(url: str, options: dict[str, Any], source: Path, tmp: Path) -> subprocess.Popen:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, json.dumps(options), str(source)],
        env=env,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition: Callable[[], bool], child: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if child.poll() is not None:
            pytest.fail(f"writer exited ({child.returncode}) before {what}: {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def _feed_fifo(fifo: Path, child: subprocess.Popen, data: bytes) -> int:
    """Open the FIFO once the child reads it (never blocking on a dead child) and write `data`."""
    fd: int | None = None

    def reader_ready() -> bool:
        nonlocal fd
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False
        return True

    _wait_for(reader_ready, child, "the child opened its source")
    assert fd is not None
    os.set_blocking(fd, True)
    os.write(fd, data)
    return fd


def _files(folder: Path, prefix: str = "") -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(prefix)]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sigkill_mid_write_leaves_no_local_blob(tmp_path: Path) -> None:
    root = tmp_path / "store"
    fifo = tmp_path / "source"
    os.mkfifo(fifo)
    written = os.urandom(3 * CHUNK_SIZE)
    child = _spawn_writer(f"file://{root}", {}, fifo, tmp_path)
    fd = _feed_fifo(fifo, child, written)
    try:
        _wait_for(
            lambda: any(p.stat().st_size == len(written) for p in _files(root / "tmp")),
            child,
            "the temp file held the bytes sent",
        )
        _kill(child)
    finally:
        os.close(fd)

    store = FsspecArtifactStore(f"file://{root}")
    assert list(store.digests()) == []
    assert not store.exists(sha(written))
    assert len(_files(root / "tmp")) == 1
    assert store.sweep_temp(older_than_seconds=0) == 1
    assert _files(root / "tmp") == []


@pytest.mark.s3
def test_sigkill_while_spooling_leaves_no_s3_blob(
    tmp_path: Path,
    s3_bucket: str,
    s3_options: dict[str, Any],
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = uuid.uuid4().hex
    url = f"s3://{s3_bucket}/{prefix}"
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    fifo = tmp_path / "source"
    os.mkfifo(fifo)
    written = os.urandom(3 * CHUNK_SIZE)
    child = _spawn_writer(url, s3_options, fifo, spool_dir)
    fd = _feed_fifo(fifo, child, written)
    try:
        _wait_for(
            lambda: any(p.stat().st_size == len(written) for p in _files(spool_dir)),
            child,
            "the spool file held the bytes sent",
        )
        _kill(child)
    finally:
        os.close(fd)

    store = FsspecArtifactStore(url, storage_options=s3_options)
    assert list(store.digests()) == []
    assert not store.exists(sha(written))
    assert _uploads(s3_client, s3_bucket, prefix) == []
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    assert store.sweep_temp(older_than_seconds=0) == 1
    assert _files(spool_dir) == []


@pytest.mark.s3
@pytest.mark.slow
def test_sigkill_during_multipart_upload_leaves_no_s3_blob(
    tmp_path: Path,
    s3_bucket: str,
    s3_options: dict[str, Any],
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = uuid.uuid4().hex
    url = f"s3://{s3_bucket}/{prefix}"
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        out.truncate(160 * CHUNK_SIZE)
    # One part in flight at a time keeps the upload far longer than the few ms the kill takes.
    child = _spawn_writer(url, {**s3_options, "max_concurrency": 1}, source, spool_dir)
    _wait_for(lambda: bool(_uploads(s3_client, s3_bucket, prefix)), child, "the upload began")
    _kill(child)

    store = FsspecArtifactStore(url, storage_options=s3_options)
    digest = sha(b"\0" * (160 * CHUNK_SIZE))
    assert list(store.digests()) == []
    assert not store.exists(digest)
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    assert store.sweep_temp(older_than_seconds=0) == 2
    assert _uploads(s3_client, s3_bucket, prefix) == []
    assert _files(spool_dir) == []


def _uploads(client: Any, bucket: str, prefix: str) -> list[str]:
    page = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/")
    return [upload["Key"] for upload in page.get("Uploads", [])]
