"""Configuration: defaults, file values, env overrides, provenance, and every documented error."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanops.config import load_settings, provenance
from leanops.errors import ConfigError
from leanops.zones import Zone


def write(folder: Path, text: str) -> Path:
    (folder / "leanops.yaml").write_text(text)
    return folder


def test_template_loads_with_defaults(project: Path) -> None:
    settings = load_settings()
    assert settings.project == "demo"
    assert settings.owner == "alice"
    assert settings.zone is Zone.SANDBOX
    assert settings.store_url == f"sqlite:///{project / '.leanops' / 'leanops.db'}"
    assert settings.zones[Zone.PRODUCTION].requires_approval
    assert not settings.zones[Zone.SANDBOX].allow_sensitive_data


def test_found_from_a_subfolder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_settings().root == project


def test_env_overrides_file_and_provenance_says_so(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANOPS_ZONE", "staging")
    monkeypatch.setenv("LEANOPS_STORE__URL", "sqlite:////tmp/x.db")
    settings = load_settings()
    assert settings.zone is Zone.STAGING
    assert settings.store_url == "sqlite:////tmp/x.db"
    sources = {key: source for key, _, source in provenance(settings)}
    assert sources["zone"] == "env LEANOPS_ZONE"
    assert sources["store.url"] == "env LEANOPS_STORE__URL"
    assert sources["project"].startswith("leanops.yaml:")
    assert sources["data.allowed_sources"].startswith("leanops.yaml:")


def test_missing_config_says_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="No leanops.yaml found") as info:
        load_settings()
    assert "leanops init" in (info.value.hint or "")


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nzones:\n  sandbox:\n    hard_ceilin: true\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert f"{tmp_path / 'leanops.yaml'}:4: key 'zones.sandbox.hard_ceilin': unknown key" in info.value.message
    assert info.value.exit_code == 2


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nzones:\n  production:\n    requires_approval: maybe\n")
    with pytest.raises(
        ConfigError, match=r"leanops.yaml:4: key 'zones.production.requires_approval': Input should be a valid boolean"
    ):
        load_settings(tmp_path)


def test_unknown_zone_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "zone: prod\n")
    with pytest.raises(
        ConfigError, match=r"leanops.yaml:1: key 'zone': Input should be 'sandbox', 'staging' or 'production'"
    ):
        load_settings(tmp_path)


def test_bad_env_value_names_the_variable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANOPS_ZONE", "moon")
    with pytest.raises(ConfigError, match=r"LEANOPS_ZONE \(key 'zone'\)"):
        load_settings()


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nstore:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"leanops.yaml:\d+:\d+: invalid YAML"):
        load_settings(tmp_path)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(tmp_path)


def test_bad_project_name(tmp_path: Path) -> None:
    write(tmp_path, "project: 'a b'\n")
    with pytest.raises(ConfigError, match="key 'project': use letters"):
        load_settings(tmp_path)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    write(tmp_path, "")
    assert load_settings(tmp_path).project == "default"
