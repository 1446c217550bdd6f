"""The price table and `cost_of`: exact decimal money, configured from leanops.yaml."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from leanops.config import load_settings
from leanops.cost.prices import GIB, PriceTable, Usage, compute_usage, cost_of, money, storage_usage
from leanops.errors import ConfigError


def test_defaults_are_the_documented_example_prices() -> None:
    p = PriceTable()
    assert (p.cpu_hour, p.gpu_hour, p.memory_gb_hour) == (Decimal("0.05"), Decimal("2.50"), Decimal("0.005"))
    assert (p.storage_gb_month, p.requests_1k, p.endpoint_hour) == (Decimal("0.023"), Decimal("0.01"), Decimal("0.10"))


def test_cost_of_sums_every_quantity_at_its_price() -> None:
    usage = Usage(cpu_hours=2, gpu_hours=1, memory_gb_hours=8, storage_gb_months=10, requests=5000, endpoint_hours=24)
    # 0.10 + 2.50 + 0.04 + 0.23 + 0.05 + 2.40
    assert cost_of(usage, PriceTable()) == Decimal("5.320000")
    assert cost_of(Usage(), PriceTable()) == Decimal("0")


def test_money_is_exact_and_rounded_once() -> None:
    # Three times a tenth of a cent-hour: floats would give 0.30000000000000004.
    assert cost_of(Usage(cpu_hours=0.1 + 0.1 + 0.1), PriceTable(cpu_hour=1)) == Decimal("0.300000")
    assert money(0.1) == Decimal("0.100000")
    assert money("1.0000005") == Decimal("1.000001")
    assert PriceTable(cpu_hour=0.1).cpu_hour == Decimal("0.1")


def test_job_and_storage_usage() -> None:
    usage = compute_usage(cpu=2, memory_bytes=4 * GIB, gpu=1, seconds=1800)
    assert (usage.cpu_hours, usage.memory_gb_hours, usage.gpu_hours) == (1.0, 2.0, 0.5)
    assert storage_usage(GIB, 730 * 3600).storage_gb_months == pytest.approx(1.0)


def test_prices_come_from_leanops_yaml(project: Path) -> None:
    config = project / "leanops.yaml"
    config.write_text(config.read_text() + "\ncurrency: EUR\nprices:\n  gpu_hour: 1.10\n")
    settings = load_settings(project)
    assert settings.currency == "EUR"
    assert settings.prices.gpu_hour == Decimal("1.10")
    assert settings.prices.cpu_hour == Decimal("0.05")


def test_a_negative_or_unknown_price_is_a_config_error(project: Path) -> None:
    config = project / "leanops.yaml"
    original = config.read_text()
    config.write_text(original + "\nprices:\n  gpu_hour: -1\n")
    with pytest.raises(ConfigError, match="prices.gpu_hour"):
        load_settings(project)
    config.write_text(original + "\nprices:\n  tpu_hour: 3\n")
    with pytest.raises(ConfigError, match="prices.tpu_hour"):
        load_settings(project)
