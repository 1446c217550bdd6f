"""Secrets and paths: names that escape folders, sources that lie, credentials that leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanops.artifacts import check_artifact_name, contained
from leanops.config import mask_credentials
from leanops.datasets.snapshot import check_source, file_source_matches
from leanops.errors import IntegrityError, ValidationError
from leanops.process import allowed_environment
from leanops.workspace import Workspace


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "C:\\x", "a\\b", "a//b", "", "./x", "a\x00b"])
def test_traversing_artifact_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_artifact_name(name)


def test_a_run_refuses_to_log_a_traversing_name(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    with ws.runs.start("paths") as run, pytest.raises(ValidationError, match="plain relative path"):
        run.log_artifact(tmp_path / "f.txt", name="../../outside.txt")


def test_materialising_never_leaves_the_folder(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    assert contained(tmp_path / "root", "model/a.bin") == (tmp_path / "root" / "model" / "a.bin").resolve()
    with pytest.raises(IntegrityError, match="outside"):
        contained(tmp_path / "root", "link/escaped.txt")


@pytest.mark.parametrize("uri", ["file://x https://evil.example/y", "s3://", "https:///nohost", "file://a\nb", "x"])
def test_a_source_is_one_url(uri: str) -> None:
    with pytest.raises(ValidationError):
        check_source(uri)


def test_a_file_source_must_name_the_real_data(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    link = tmp_path / "allowed"
    link.mkdir()
    (link / "alias.csv").symlink_to(data)
    assert file_source_matches(f"file://{tmp_path}", data)
    assert not file_source_matches(f"file://{link}", (link / "alias.csv"))  # resolves to outside `allowed/`


def test_registering_with_a_lying_file_label_is_refused(ws: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text("a\n1\n")
    with pytest.raises(ValidationError, match="not where the data comes from"):
        ws.datasets.register(data, name="x", source="file:///srv/approved/x.csv")


def test_credentials_are_masked_everywhere_a_setting_is_shown() -> None:
    shown = mask_credentials(
        {"store": "postgresql+psycopg://leanops:hunter2@db:5432/x", "art": "s3://b/p?token=abc&x=1"}
    )
    assert "hunter2" not in str(shown) and "abc" not in str(shown) and "x=1" in shown["art"]


def test_config_show_masks_the_database_password(ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    import sys

    from leanops.cli import main

    monkeypatch.setenv("LEANOPS_STORE__URL", "postgresql+psycopg://leanops:hunter2@127.0.0.1:1/x")
    for args in (["config", "show"], ["config", "show", "--json"]):
        monkeypatch.setattr(sys, "argv", ["leanops", *args])
        with pytest.raises(SystemExit):
            main()
        assert "hunter2" not in capsys.readouterr().out


def test_an_unreachable_store_names_its_url_without_the_password(project: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import sys

    from leanops.cli import main

    monkeypatch.setenv("LEANOPS_STORE__URL", "postgresql+psycopg://leanops:hunter2@127.0.0.1:1/x")
    monkeypatch.setattr(sys, "argv", ["leanops", "status"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    assert exit_.value.code == 10 and "hunter2" not in out.out + out.err and "127.0.0.1:1" in out.out + out.err


def test_a_child_sees_only_what_is_allowed() -> None:
    parent = {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k", "LEANOPS_TOKEN": "mine", "DB_URL": "pg://u:p@h/d", "X": "1"}
    env = allowed_environment(parent, leanops={"LEANOPS_TOKEN": "job"}, passthrough=["X"], spec_env={"MODE": "a"})
    assert env == {"PATH": "/bin", "X": "1", "MODE": "a", "LEANOPS_TOKEN": "job"}
