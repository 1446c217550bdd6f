"""Batch scoring: streamed in chunks, the same gates, metering and log as the server."""

from __future__ import annotations

import pandas as pd
import pytest

from leanops.cli import app
from leanops.errors import NotFound, ValidationError
from leanops.serving.batch import score_file


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_file_is_scored_in_chunks_with_the_zones_version(served, suffix: str) -> None:  # noqa: ANN001
    source = served.root / f"customers{suffix}"
    frame = served.x.assign(customer=range(len(served.x)))
    frame.to_parquet(source) if suffix == ".parquet" else frame.to_csv(source, index=False)
    seen: list[int] = []
    result = score_file(
        served.carol.serving,
        "churn",
        "production",
        source,
        served.root / f"scored{suffix}",
        chunk_rows=64,
        progress=lambda done, total: seen.append(done),
    )
    out = pd.read_parquet(result.output) if suffix == ".parquet" else pd.read_csv(result.output)
    model = served.admin.models.load("churn", 1)
    assert (result.rows, result.version) == (300, 1) and result.chunks >= 2 and seen[-1] == 300
    assert out.prediction.tolist() == model.predict(served.x).tolist()
    assert out.customer.tolist() == list(range(300)) and {"proba_0", "proba_1"} <= set(out.columns)
    [deployment] = served.admin.serving.deployments("churn")
    assert deployment.endpoint == f"batch:customers{suffix}" and deployment.requests == 300
    assert not deployment.active


def test_bad_batch_input_leaves_no_output(served) -> None:  # noqa: ANN001
    source = served.root / "partial.csv"
    served.x[["age"]].to_csv(source, index=False)
    dest = served.root / "out.parquet"
    with pytest.raises(ValidationError, match="lacks the model's columns: spend"):
        score_file(served.carol.serving, "churn", "production", source, dest)
    assert not dest.exists() and not list(served.root.glob(".out.parquet*"))
    with pytest.raises(ValidationError, match="not a readable Parquet"):
        (served.root / "bad.parquet").write_bytes(b"not parquet")
        score_file(served.carol.serving, "churn", "production", served.root / "bad.parquet", dest)
    with pytest.raises(ValidationError, match=".parquet or .csv"):
        score_file(served.carol.serving, "churn", "production", source, served.root / "out.xlsx")
    with pytest.raises(NotFound, match="serves in staging"):
        score_file(served.carol.serving, "churn", "staging", source, dest)


def test_cli_score_and_serve_refusals(served, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    source = served.root / "customers.csv"
    served.x.to_csv(source, index=False)
    monkeypatch.chdir(served.root)
    monkeypatch.setenv("LEANOPS_TOKEN", served.carol._token)
    runner = CliRunner()
    ok = runner.invoke(app, ["score", "churn", str(source), str(served.root / "out.csv"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"rows": 300' in ok.output
    listed = runner.invoke(app, ["deployments", "churn", "--json"])
    assert listed.exit_code == 0 and '"endpoint": "batch:customers.csv"' in listed.output
    from leanops.cli import main

    monkeypatch.setattr("sys.argv", ["leanops", "serve", "churn", "--zone", "staging"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 4


@pytest.mark.slow
def test_serve_command_stops_gracefully_on_sigterm_and_closes_its_deployment(served) -> None:  # noqa: ANN001
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LEANOPS_TOKEN": served.carol._token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leanops.cli", "serve", "churn", "--port", str(port)],
        cwd=served.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        assert httpx.post(
            f"http://127.0.0.1:{port}/predict", json={"records": [{"age": 40.0, "spend": 1.0}]}
        ).is_success
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in (0, -signal.SIGTERM), out  # uvicorn re-raises the signal once it has shut down
    [deployment] = served.admin.serving.deployments("churn")
    assert (deployment.requests, deployment.stop_reason) == (1, "server stopped"), out


@pytest.mark.ray
@pytest.mark.xdist_group("ray")
def test_batch_scoring_on_ray_gives_the_local_answer(served, ray_cluster) -> None:  # noqa: ANN001
    source = served.root / "customers.parquet"
    served.x.to_parquet(source)
    result = score_file(
        served.carol.serving, "churn", "production", source, served.root / "ray.parquet", chunk_rows=100, executor="ray"
    )
    local = score_file(served.carol.serving, "churn", "production", source, served.root / "local.parquet")
    assert result.rows == local.rows == 300 and result.chunks == 3
    assert pd.read_parquet(result.output).equals(pd.read_parquet(local.output))


@pytest.mark.slow
def test_two_worker_processes_are_replicas_that_see_the_same_promotion(served) -> None:  # noqa: ANN001
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LEANOPS_TOKEN": served.carol._token, "LEANOPS_SERVING__POLL_SECONDS": "0.2s"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leanops.cli", "serve", "churn", "--port", str(port), "--workers", "2"],
        cwd=served.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def versions_seen(n: int = 40) -> set[int]:
        seen = set()
        for _ in range(n):
            with httpx.Client() as fresh:  # a new connection each time, so both workers answer
                seen.add(fresh.get(f"{url}/ready").json()["version"])
        return seen

    try:
        deadline = time.monotonic() + 60
        while len(served.admin.serving.deployments("churn", active=True)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        assert versions_seen() == {1}
        served.carol.models.promote("churn", 2, "production", reason="v2")
        while {d.version for d in served.admin.serving.deployments("churn", active=True)} != {2}:
            assert time.monotonic() < deadline, "the workers never swapped"
            time.sleep(0.2)
        assert versions_seen() == {2}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    done = served.admin.serving.deployments("churn")
    assert sorted((d.version, d.stop_reason) for d in done) == [
        (1, "swapped to v2"),
        (1, "swapped to v2"),
        (2, "server stopped"),
        (2, "server stopped"),
    ]
    assert len({d.pid for d in done}) == 2
