"""The configurable price table, and hold sizing for reserve-before-work."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelPrice(BaseModel):
    """Micro-units per 1,000 tokens in and out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_per_1k: int = Field(ge=0)
    out_per_1k: int = Field(ge=0)


class PriceTable(BaseModel):
    """Prices of model calls (per model, with a default), storage, compute and the bytes
    agent tool calls read, write or send out (``tool_bytes_per_mb``: micro-units per
    1,000,000 bytes, 1,000 by default, i.e. one micro-unit a kilobyte)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, ModelPrice] = Field(default_factory=dict)
    default_model: ModelPrice = ModelPrice(in_per_1k=500, out_per_1k=1500)
    storage_per_mb_day: int = Field(default=100, ge=0)
    compute_per_s: int = Field(default=50, ge=0)
    tool_bytes_per_mb: int = Field(default=1000, ge=0)

    def model(self, name: str) -> ModelPrice:
        """The price of ``name``, or the default model price."""
        return self.models.get(name, self.default_model)

    def model_call(self, name: str, tokens_in: int, tokens_out: int) -> int:
        """Price of one call in micro-units, rounded up to a whole micro-unit."""
        p = self.model(name)
        return -(-(tokens_in * p.in_per_1k + tokens_out * p.out_per_1k) // 1000)

    def storage(self, megabyte_days: int) -> int:
        """Price of storing ``megabyte_days``."""
        return megabyte_days * self.storage_per_mb_day

    def compute(self, milliseconds: int) -> int:
        """Price of ``milliseconds`` of compute, rounded up to a whole micro-unit."""
        return -(-milliseconds * self.compute_per_s // 1000)

    def tool_bytes(self, n_bytes: int) -> int:
        """Price of ``n_bytes`` read, written or sent by tool calls, rounded up."""
        return -(-n_bytes * self.tool_bytes_per_mb // 1_000_000)


def hold_size(
    prices: PriceTable,
    model: str,
    tokens_in: int,
    max_tokens_out: int,
    max_compute_ms: int = 0,
    max_tool_bytes: int = 0,
) -> int:
    """The pre-authorisation hold for a call: its price at the largest possible output,
    plus the compute of the longest call the activity's timeout allows, plus the most bytes
    the turn's tool calls may move (each call draws its bytes from the hold)."""
    return max(
        1,
        prices.model_call(model, tokens_in, max_tokens_out)
        + prices.compute(max_compute_ms)
        + prices.tool_bytes(max_tool_bytes),
    )


def megabyte_days(stored_bytes: int, seconds: float) -> int:
    """Storage use of ``stored_bytes`` kept for ``seconds``, rounded up to whole MB-days."""
    if stored_bytes <= 0 or seconds <= 0:
        return 0
    return -(-int(stored_bytes * seconds) // (1_000_000 * 86_400))
