"""Bad input gets a clear, typed error and no traceback."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from leanops.config import load_settings
from leanops.errors import ConfigError, ValidationError
from leanops.governance import parse_duration
from leanops.jobs.spec import seconds


@pytest.mark.parametrize("content", [b"project: caf\xe9\n", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_a_non_utf8_or_binary_config_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "leanops.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match="leanops.yaml"):
        load_settings(tmp_path)


def test_sub_second_durations_are_accepted_and_nonsense_refused() -> None:
    assert parse_duration("0.5s") == timedelta(milliseconds=500)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert seconds("1.5m") == 90.0 and seconds(0.25) == 0.25
    for bad in ("0s", "-1s", "5 parsecs", "nan"):
        with pytest.raises(ValidationError):
            parse_duration(bad)
    for bad in (float("nan"), float("inf"), 0, -2):
        with pytest.raises(ValueError):
            seconds(bad)


def test_json_output_stays_json_with_non_finite_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    from leanops.cli.common import print_json

    print_json({"loss": float("nan"), "best": [float("inf"), 1.5]})
    assert json.loads(capsys.readouterr().out) == {"loss": None, "best": [None, 1.5]}


def test_markup_in_user_input_does_not_break_the_error_printer(
    ws,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # noqa: ANN001
) -> None:
    from leanops.cli import main

    monkeypatch.setattr(sys, "argv", ["leanops", "data", "show", "[/x][bold]oops"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    assert exit_.value.code in (3, 4) and "[/x][bold]oops" in out.out + out.err


@pytest.mark.parametrize("monthly", ["nan", "1e30", "-5", "inf", "lots"])
def test_a_budget_must_be_a_real_amount(ws, monthly: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="not a monthly budget"):
        ws.cost.set_budget("sandbox", monthly, owner="alice")


def test_budget_thresholds_and_owner_are_checked(ws) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match="out of range"):
        ws.cost.set_budget("sandbox", 100, owner="alice", thresholds=[-1, 80])
    with pytest.raises(ValidationError, match="not a user"):
        ws.cost.set_budget("sandbox", 100, owner="nobody")
    assert ws.cost.set_budget("sandbox", 100, owner="alice", thresholds=[100, 50]).thresholds == [50, 100]


def test_a_store_url_to_a_missing_folder_opens_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leanops.errors import StoreUnavailable
    from leanops.workspace import Workspace

    monkeypatch.setenv("LEANOPS_STORE__URL", f"sqlite:///{project / 'typo' / 'leanops.db'}")
    with pytest.raises(StoreUnavailable, match="no leanops store"):
        Workspace.from_config(project)
    assert not (project / "typo").exists()
