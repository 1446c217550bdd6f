"""Docs kept honest: every command and every configuration key appears in the reference."""

from __future__ import annotations

import runpy
from pathlib import Path

import typer

import leanops
from leanops.cli import app

ROOT = Path(__file__).resolve().parent.parent
GEN = runpy.run_path(str(ROOT / "docs" / "gen_reference.py"), run_name="reference")


def test_every_command_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text()
    missing = [path for path, _ in GEN["commands"](typer.main.get_command(app)) if f"### `{path}`" not in reference]
    assert not missing, f"regenerate docs/reference.md (python docs/gen_reference.py); missing: {missing}"


def test_every_config_key_is_in_the_reference() -> None:
    from leanops.config import Settings

    reference = (ROOT / "docs" / "reference.md").read_text()
    missing = [key for key, _, _ in GEN["settings_keys"](Settings) if f"| `{key}` |" not in reference]
    assert not missing, f"regenerate docs/reference.md; missing keys: {missing}"


def test_every_command_has_help() -> None:
    silent = [path for path, cmd in GEN["commands"](typer.main.get_command(app)) if not (cmd.help or "").strip()]
    assert not silent, f"commands without help: {silent}"


def test_public_api_is_explicit() -> None:
    assert sorted(leanops.__all__) == sorted(set(leanops.__all__))
    for name in leanops.__all__:
        assert hasattr(leanops, name), name


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
