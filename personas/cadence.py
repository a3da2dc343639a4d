"""Pacing and engagement: how often a persona takes work and which work it takes.

The cadence is the design's (the seed): an idle persona is eager (3 s), an active one
paces at 5 s, a tired one at 7 s and an overwhelmed one is slowest (10 s); each doubles
when the compute budget is below half. The interval is a period, counted from when the
last item was taken up: work that took longer than the interval has already used it up, so
the next item is taken at once, without a timer. That makes sub-second pacing real: a
persona configured at 10 ms is limited by its work, not by timers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from personas.items import BP, HIGH_PRIORITY_BP
from personas.state import Mood, PersonaState


class CadenceConfig(BaseModel):
    """Seconds between items per mood; slowed down when compute budget runs low."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active_s: float = Field(default=5.0, gt=0)
    tired_s: float = Field(default=7.0, gt=0)
    overwhelmed_s: float = Field(default=10.0, gt=0)
    idle_s: float = Field(default=3.0, gt=0)
    low_budget_below: float = Field(default=0.5, ge=0, le=1)
    low_budget_factor: float = Field(default=2.0, ge=1)


class EngagementThresholds(BaseModel):
    """The least effective priority (basis points) a persona engages with, per mood."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active_bp: int = Field(default=2_000, ge=0, le=BP)
    tired_bp: int = Field(default=5_000, ge=0, le=BP)
    overwhelmed_bp: int = Field(default=6_500, ge=0, le=BP)
    idle_bp: int = Field(default=1_000, ge=0, le=BP)


def interval_s(state: PersonaState, config: CadenceConfig) -> float:
    """Seconds to wait before taking the next ordinary item."""
    base = {
        Mood.ACTIVE: config.active_s,
        Mood.TIRED: config.tired_s,
        Mood.OVERWHELMED: config.overwhelmed_s,
        Mood.IDLE: config.idle_s,
    }[state.mood]
    if state.compute_budget < config.low_budget_below:
        return base * config.low_budget_factor
    return base


def next_item_at_ms(state: PersonaState, config: CadenceConfig) -> int:
    """When the next ordinary item may be taken: the interval of the mood the persona was in
    when it finished its last item, counted from when it took that item up."""
    if state.last_work_ms == 0:
        return 0
    taken_ms = state.last_taken_ms or state.last_work_ms
    return taken_ms + round(interval_s(state, config) * 1000)


def pacing_wait_s(state: PersonaState, config: CadenceConfig, now_ms: int) -> float:
    """Seconds still to wait before the next ordinary item; 0 when the interval has passed
    (then no timer is started)."""
    return max(0, next_item_at_ms(state, config) - now_ms) / 1000


def is_urgent(priority_bp: int) -> bool:
    """High priority (> 0.8): engaged in every mood and never kept waiting for the cadence."""
    return priority_bp > HIGH_PRIORITY_BP


def engages(priority_bp: int, mood: Mood, thresholds: EngagementThresholds) -> bool:
    """Whether a persona in ``mood`` takes up an item of this effective priority."""
    if is_urgent(priority_bp):
        return True
    threshold = {
        Mood.ACTIVE: thresholds.active_bp,
        Mood.TIRED: thresholds.tired_bp,
        Mood.OVERWHELMED: thresholds.overwhelmed_bp,
        Mood.IDLE: thresholds.idle_bp,
    }[mood]
    return priority_bp >= threshold
