"""The price table and the one pure function that turns metered usage into money.

Money is `decimal.Decimal`, rounded to micro-units (six decimals) once per charge, so a
report's total is exactly the sum of the ledger's entries; floats would drift by cents.
Memory and storage are priced per GB where GB means GiB (2^30 bytes), as cloud price sheets do.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

MICRO = Decimal("0.000001")
GIB = 2**30
HOURS_PER_MONTH = Decimal(730)  # the cloud providers' convention: 8,760 h / 12


def money(value: Any) -> Decimal:
    """A Decimal rounded to micro-units: `money(0.1) == Decimal("0.100000")`."""
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(MICRO, rounding=ROUND_HALF_UP)


def to_micros(value: Decimal) -> int:
    return int(money(value) * 1_000_000)


def from_micros(value: int) -> Decimal:
    return (Decimal(int(value)) / 1_000_000).quantize(MICRO)


class PriceTable(BaseModel, extra="forbid"):
    """List prices per unit. The defaults are example list prices; set your own in leanops.yaml."""

    cpu_hour: Decimal = Field(Decimal("0.05"), ge=0, description="One CPU core for one hour")
    gpu_hour: Decimal = Field(Decimal("2.50"), ge=0, description="One GPU for one hour")
    memory_gb_hour: Decimal = Field(Decimal("0.005"), ge=0, description="One GB of memory for one hour")
    storage_gb_month: Decimal = Field(Decimal("0.023"), ge=0, description="One GB stored for one month (730 h)")
    requests_1k: Decimal = Field(Decimal("0.01"), ge=0, description="1,000 prediction requests")
    endpoint_hour: Decimal = Field(Decimal("0.10"), ge=0, description="One serving endpoint up for one hour")

    @field_validator("*", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        # 0.1 written in YAML arrives as a float; go through its shortest repr, not its binary value.
        return repr(value) if isinstance(value, float) else value


class Usage(BaseModel):
    """Metered quantities of one ledger entry; any may be zero."""

    cpu_hours: float = 0.0
    gpu_hours: float = 0.0
    memory_gb_hours: float = 0.0
    storage_gb_months: float = 0.0
    requests: float = 0.0
    endpoint_hours: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})

    def nonzero(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v}


# Each usage quantity, the price it is charged at, and the divisor of that price's unit.
_RATES = (
    ("cpu_hours", "cpu_hour", 1),
    ("gpu_hours", "gpu_hour", 1),
    ("memory_gb_hours", "memory_gb_hour", 1),
    ("storage_gb_months", "storage_gb_month", 1),
    ("requests", "requests_1k", 1000),
    ("endpoint_hours", "endpoint_hour", 1),
)


def breakdown(usage: Usage, prices: PriceTable) -> dict[str, Decimal]:
    """Each nonzero quantity's cost, unrounded: the parts `cost_of` sums."""
    out: dict[str, Decimal] = {}
    for quantity, price, per in _RATES:
        amount = getattr(usage, quantity)
        if amount:
            out[quantity] = Decimal(repr(float(amount))) * getattr(prices, price) / per
    return out


def cost_of(usage: Usage, prices: PriceTable) -> Decimal:
    """What `usage` costs at `prices`, rounded once to micro-units.

    cost_of(Usage(cpu_hours=2), PriceTable()) == Decimal("0.100000")
    """
    return money(sum(breakdown(usage, prices).values(), Decimal(0)))


def compute_usage(*, cpu: float = 0.0, memory_bytes: int = 0, gpu: int = 0, seconds: float = 0.0) -> Usage:
    """Declared resources held for `seconds`: what a job attempt is charged (reserved, not sampled)."""
    hours = seconds / 3600
    return Usage(cpu_hours=cpu * hours, gpu_hours=gpu * hours, memory_gb_hours=memory_bytes / GIB * hours)


def storage_usage(size_bytes: int, seconds: float) -> Usage:
    """`size_bytes` kept for `seconds`, as GB-months."""
    return Usage(storage_gb_months=float(Decimal(size_bytes) / GIB * Decimal(seconds) / 3600 / HOURS_PER_MONTH))


def show(amount: Decimal) -> str:
    """Money for people: at least two decimals, up to four (six under a cent) when they matter.

    show(Decimal("12.5")) == "12.50";  show(Decimal("0.105")) == "0.105";  show(Decimal("0.000042")) == "0.000042"
    """
    amount = Decimal(amount)
    places = 6 if amount and abs(amount) < Decimal("0.01") else 4
    text = f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"
