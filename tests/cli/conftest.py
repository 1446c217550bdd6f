"""Running the real `leanops` entry point in-process, with its exit code and output."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class Result:
    exit_code: int
    output: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """`cli("status", "--json")` runs `leanops status --json` through `main()`, as a shell would."""
    from leanops.cli import main
    from leanops.cli.common import console, state

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        import os

        before = {key: os.environ.get(key) for key in env or {}}
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "argv", ["leanops", *args])
        monkeypatch.setattr(console, "width", 200)
        state.debug, state.zone, state.token = False, None, None
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        for key, value in before.items():  # put back what the test's own setup had set
            if value is None:
                monkeypatch.delenv(key)
            else:
                monkeypatch.setenv(key, value)
        return Result(code, out.out + out.err)

    return run


@pytest.fixture
def token_env():  # noqa: ANN201
    """`token_env("bob")` is the environment that acts as bob: a token the local admin minted."""
    from datetime import timedelta

    from leanops.workspace import Workspace

    def mint(name: str) -> dict[str, str]:
        with Workspace.from_config() as admin:
            return {"LEANOPS_TOKEN": admin.users.create_token(name, ttl=timedelta(days=1)).plaintext}

    return mint
