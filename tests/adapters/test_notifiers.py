"""Notifier sinks against a real HTTP receiver on 127.0.0.1, a real log file and real streams."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from leanops.adapters.notifiers import (
    FanoutNotifier,
    LogNotifier,
    SlackNotifier,
    WebhookNotifier,
    build_notifier,
    check_sink,
)
from leanops.errors import ConfigError


class Receiver:
    """A webhook endpoint that records each POST and answers with queued status codes."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhook_posts_json(receiver: Receiver) -> None:
    WebhookNotifier(f"{receiver.url}/hooks/abc").send(
        "Job x timed out", "stopped at 30m", severity="error", owner="alice", job_id="j1"
    )
    [hit] = receiver.received
    assert hit["path"] == "/hooks/abc" and hit["type"] == "application/json"
    body = hit["json"]
    assert (body["subject"], body["body"], body["severity"]) == ("Job x timed out", "stopped at 30m", "error")
    assert body["fields"] == {"owner": "alice", "job_id": "j1"} and body["at"]


def test_webhook_retries_server_errors_then_gives_up(receiver: Receiver) -> None:
    receiver.statuses = [503, 500]
    WebhookNotifier(receiver.url, wait=0.01).send("s", "b")
    assert len(receiver.received) == 3  # two failures, then delivered
    receiver.statuses = [500, 500, 500]
    with pytest.raises(Exception, match="HTTP 500"):
        WebhookNotifier(receiver.url, wait=0.01).send("s", "b")


def test_webhook_does_not_retry_client_errors(receiver: Receiver) -> None:
    receiver.statuses = [404]
    with pytest.raises(Exception, match="404"):
        WebhookNotifier(receiver.url, wait=0.01).send("s", "b")
    assert len(receiver.received) == 1


def test_slack_payload_is_text(receiver: Receiver) -> None:
    SlackNotifier(receiver.url).send("Job x gave up", "3 attempts", severity="error", owner="alice", job="x")
    text = receiver.received[0]["json"]["text"]
    assert receiver.received[0]["json"].keys() == {"text"}
    assert (
        text.startswith(":x: *Job x gave up*") and "3 attempts" in text and "owner: alice" in text and "job: x" in text
    )


def test_log_sinks_write_one_line_per_notice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "logs" / "notices.log"
    LogNotifier(path=path).send("subject", "body", severity="warning", owner="bob")
    LogNotifier(path=path).send("second", "b2")
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and "[warning] subject: body (owner=bob)" in lines[0] and "[info] second: b2" in lines[1]
    LogNotifier("stdout").send("to stdout", "x")
    assert "to stdout: x" in capsys.readouterr().out


def test_fanout_survives_a_dead_sink(receiver: Receiver, tmp_path: Path) -> None:
    errors: list[str] = []
    dead = WebhookNotifier("http://127.0.0.1:9/token-in-path", timeout=0.5, attempts=1)
    log = LogNotifier(path=tmp_path / "n.log")
    FanoutNotifier([dead, WebhookNotifier(receiver.url), log], on_error=errors.append).send("s", "b")
    assert len(receiver.received) == 1 and (tmp_path / "n.log").read_text()
    assert len(errors) == 1 and "token-in-path" not in errors[0] and "127.0.0.1:9" in errors[0]


def test_sinks_are_chosen_by_scheme(receiver: Receiver, tmp_path: Path) -> None:
    fan = build_notifier(
        ["stderr", "file:rel/n.log", f"file://{tmp_path}/abs.log", receiver.url, "slack+" + receiver.url], root=tmp_path
    )
    kinds = [type(s).__name__ for s in fan.sinks]
    assert kinds == ["LogNotifier", "LogNotifier", "LogNotifier", "WebhookNotifier", "SlackNotifier"]
    fan.send("hello", "world", owner="alice")
    assert (tmp_path / "rel" / "n.log").exists() and (tmp_path / "abs.log").exists()
    assert [("text" in r["json"]) for r in receiver.received] == [False, True]
    with pytest.raises(ValueError, match="unknown notifier sink"):
        check_sink("smtp://mail")
    with pytest.raises(ConfigError):
        build_notifier(["pager://x"])


def test_config_refuses_an_unknown_sink(tmp_path: Path) -> None:
    from leanops.config import load_settings

    (tmp_path / "leanops.yaml").write_text("notify:\n  sinks: [stdout, 'carrier-pigeon://x']\n")
    with pytest.raises(ConfigError, match="leanops.yaml:2: key 'notify.sinks': unknown notifier sink 'carrier-pigeon"):
        load_settings(tmp_path)
