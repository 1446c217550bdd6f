"""Notifier sinks: a log stream or file, a generic JSON webhook, and a Slack-compatible webhook.

Chosen by URL scheme in `notify.sinks` (leanops.yaml):

    stdout | stderr                 one line per notice
    file:.leanops/notices.log       appended; relative paths are relative to the project
    https://hooks.example.com/x     POST {"subject", "body", "severity", "fields", "at"}
    slack+https://hooks.slack.com/… POST {"text": "…"} (Slack's incoming-webhook payload)

A sink that fails never fails the caller: an alert that cannot be delivered must not turn a
finished job into a failed one. Delivery problems go to stderr instead.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from leanops.errors import ConfigError
from leanops.ports import Notifier

SCHEMES = ("stdout", "stderr", "file", "http", "https", "slack+http", "slack+https")
USER_AGENT = "leanops-notifier/1"


def _line(subject: str, body: str, severity: str, fields: dict[str, Any]) -> str:
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} [{severity}] {subject}: {body}" + (f" ({extra})" if extra else "")


class LogNotifier:
    """One line per notice on a stream ("stdout", "stderr" or a file object), or appended to a file."""

    def __init__(self, stream: TextIO | str = "stderr", *, path: Path | None = None) -> None:
        self.stream = stream
        self.path = path
        self._lock = threading.Lock()

    def send(self, subject: str, body: str, *, severity: str = "info", **fields: Any) -> None:
        line = _line(subject, body, severity, fields)
        with self._lock:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
            else:
                stream = getattr(sys, self.stream) if isinstance(self.stream, str) else self.stream
                print(line, file=stream, flush=True)


class _Retryable(Exception):
    pass


class WebhookNotifier:
    """POSTs a JSON document; retries connection errors and 5xx with backoff, briefly."""

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3, wait: float = 0.5) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.wait = wait

    def payload(self, subject: str, body: str, severity: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "subject": subject,
            "body": body,
            "severity": severity,
            "fields": fields,
            "at": datetime.now(UTC).isoformat(),
        }

    def send(self, subject: str, body: str, *, severity: str = "info", **fields: Any) -> None:
        data = json.dumps(self.payload(subject, body, severity, fields), default=str).encode()
        for attempt in _retrying(self.attempts, self.wait):
            with attempt:
                self._post(data)

    def _post(self, data: bytes) -> None:
        request = urllib.request.Request(
            self.url,
            data=data,
            method="POST",  # noqa: S310 - configured sink
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise _Retryable(f"HTTP {exc.code}") from exc
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise _Retryable(str(exc)) from exc


class SlackNotifier(WebhookNotifier):
    """Slack (and Mattermost, Rocket.Chat) incoming webhooks: a `text` payload."""

    ICONS = {"critical": ":rotating_light:", "error": ":x:", "warning": ":warning:", "info": ":information_source:"}

    def payload(self, subject: str, body: str, severity: str, fields: dict[str, Any]) -> dict[str, Any]:
        owner = fields.get("owner")
        lines = [f"{self.ICONS.get(severity, '')} *{subject}*".strip(), body]
        if owner:
            lines.append(f"owner: {owner}")
        lines += [f"{k}: {v}" for k, v in fields.items() if k != "owner"]
        return {"text": "\n".join(lines)}


def _retrying(attempts: int, wait: float) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait, max=5 * wait),
        retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
        reraise=True,
    )


class FanoutNotifier:
    """Sends each notice to every sink; a failing sink is reported, never raised."""

    def __init__(self, sinks: Iterable[Notifier], *, on_error: Callable[[str], None] | None = None) -> None:
        self.sinks = list(sinks)
        self.on_error = on_error or (lambda message: print(message, file=sys.stderr))

    def send(self, subject: str, body: str, *, severity: str = "info", **fields: Any) -> None:
        for sink in self.sinks:
            try:
                sink.send(subject, body, severity=severity, **fields)
            except Exception as exc:  # noqa: BLE001 - delivery must not fail the caller
                self.on_error(f"leanops: could not deliver notice {subject!r} to {describe(sink)}: {exc}")


def describe(sink: Notifier) -> str:
    """A sink's name without credentials (webhook URLs carry tokens in their path)."""
    url = getattr(sink, "url", None)
    if url:
        scheme, _, rest = url.partition("://")
        return f"{type(sink).__name__}({scheme}://{rest.split('/', 1)[0]}/…)"
    path = getattr(sink, "path", None)
    return f"{type(sink).__name__}({path or getattr(sink, 'stream', 'stream')})"


def check_sink(url: str) -> str:
    """`url` if its scheme names a known sink, else a ValueError (used by config validation)."""
    scheme = url.split(":", 1)[0] if ":" in url else url
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown notifier sink {url!r}; use one of: stdout, stderr, file:PATH, https://…, slack+https://…"
        )
    return url


def build_notifier(urls: Iterable[str], root: Path | None = None) -> FanoutNotifier:
    """The fan-out over the configured sinks."""
    sinks: list[Notifier] = []
    for url in urls:
        scheme = url.split(":", 1)[0] if ":" in url else url
        if scheme == "stdout":
            sinks.append(LogNotifier("stdout"))
        elif scheme == "stderr":
            sinks.append(LogNotifier("stderr"))
        elif scheme == "file":
            raw = url.split(":", 1)[1].removeprefix("//")
            path = Path(raw).expanduser()
            sinks.append(LogNotifier(path=path if path.is_absolute() else (root or Path.cwd()) / path))
        elif scheme in ("http", "https"):
            sinks.append(WebhookNotifier(url))
        elif scheme in ("slack+http", "slack+https"):
            sinks.append(SlackNotifier(url.removeprefix("slack+")))
        else:
            raise ConfigError(
                f"Unknown notifier sink {url!r}.", hint="Use stdout, stderr, file:PATH, https://… or slack+https://…."
            )
    return FanoutNotifier(sinks)
