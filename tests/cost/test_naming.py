"""Naming conventions: checked by the guard whenever a dataset, model or endpoint is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanops.config import NamingSettings, Settings
from leanops.cost.naming import check_name, created_name
from leanops.errors import ValidationError
from leanops.policy import Resource


def test_check_name_names_the_pattern() -> None:
    assert check_name("job", "train-churn", {"job": r"^train-[a-z-]+$"}) == "train-churn"
    assert check_name("job", "Anything_Goes", {"job": None}) == "Anything_Goes"
    with pytest.raises(ValidationError, match=r"'Churn' does not follow .*\^\[a-z\]\+\$") as err:
        check_name("model", "Churn", {"model": "^[a-z]+$"})
    assert err.value.details["pattern"] == "^[a-z]+$"


def test_created_name_reads_the_resource() -> None:
    assert created_name("model.register", "churn/3") == ("model", "churn")
    assert created_name("dataset.register", "customers") == ("dataset", "customers")
    assert created_name("dataset.read", "customers") is None


def test_a_bad_pattern_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        NamingSettings(dataset="([")
    assert Settings(naming={"job": "^x"}).naming.job == "^x"


def test_creating_actions_follow_the_convention(cws, project: Path) -> None:  # noqa: ANN001
    cws.settings.naming.dataset = r"^[a-z]+-[a-z0-9-]+$"  # <team>-<what>
    cws.settings.naming.model = r"^[a-z]+$"
    source = project / "customers.csv"
    source.write_text("id,churned\n1,0\n2,1\n")
    with pytest.raises(ValidationError, match="naming convention"):
        cws.datasets.register(source, name="customers")
    assert cws.datasets.register(source, name="growth-customers").name == "growth-customers"
    with pytest.raises(ValidationError, match="model name 'Churn_v2'"):
        cws._guard.check("model.register", Resource(type="ModelVersion", id="Churn_v2/1", owner="alice"))
    cws._guard.check("model.read", Resource(type="ModelVersion", id="Churn_v2/1"))  # reads are never checked
    (attempt,) = [r for r in cws.audit.tail(20) if r.action == "model.register"]  # refused, and kept as an attempt
    assert attempt.policy_ids == ["outcome:failed"] and "naming convention" in attempt.details["error"]
