"""The context a fleet serves in, its documented effect on traffic, and its learner features.

A :class:`FleetContext` is the traffic pattern, the hour of day, the region of the users and
whether a marketing campaign runs. Its effects (used by the simulator and the load generator
alike; the defaults are exactly what the testbed measures, so calibration is unaffected):

- **time of day** scales the request rate by its day-part: night (0-5 h) 0.4, morning (6-11 h)
  0.8, day (12-17 h) 1.0, evening (18-23 h) 1.3;
- **campaign** doubles the request rate and raises the value of each conversion by half;
- **region** adds network latency to every visit: ``local`` (the testbed's own, loopback) 0 ms,
  ``eu`` 20 ms, ``us`` 80 ms, ``apac`` 150 ms (so impatient users convert less there).

For the learner a context is a vector: one-hots of pattern, day-part and region, the campaign
flag, and two numbers (log2 of the rate factor, network latency in 100 ms), so that contexts
that share parts (or have similar load) have similar features and inform each other.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from personas.fleet.patterns import PATTERNS, Pattern

Region = Literal["local", "eu", "us", "apac"]
DayPart = Literal["night", "morning", "day", "evening"]
REGIONS: tuple[Region, ...] = ("local", "eu", "us", "apac")
DAY_PARTS: tuple[DayPart, ...] = ("night", "morning", "day", "evening")
#: Added network latency (ms) per region.
NETWORK_MS: dict[str, float] = {"local": 0.0, "eu": 20.0, "us": 80.0, "apac": 150.0}
#: Request-rate multiplier per day-part.
DAY_RATE: dict[str, float] = {"night": 0.4, "morning": 0.8, "day": 1.0, "evening": 1.3}
CAMPAIGN_RATE = 2.0
CAMPAIGN_VALUE = 1.5


class FleetContext(BaseModel):
    """Where and when the fleet serves: traffic pattern, hour, region, campaign."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: Pattern = "steady"
    hour: int = Field(default=14, ge=0, le=23, description="hour of day (local time)")
    region: Region = "local"
    campaign: bool = False

    def context(self) -> FleetContext:
        """The context part alone (drops any load fields of a subclass)."""
        return FleetContext(
            pattern=self.pattern, hour=self.hour, region=self.region, campaign=self.campaign
        )

    def day_part(self) -> DayPart:
        """The day-part of the hour."""
        return DAY_PARTS[self.hour // 6]

    def key(self) -> str:
        """A short stable text key, e.g. ``surge-evening-us-campaign``."""
        tail = "-campaign" if self.campaign else ""
        return f"{self.pattern}-{self.day_part()}-{self.region}{tail}"


def traffic_factor(ctx: FleetContext) -> float:
    """Multiplier of the base request rate (time of day, campaign)."""
    return DAY_RATE[ctx.day_part()] * (CAMPAIGN_RATE if ctx.campaign else 1.0)


def value_factor(ctx: FleetContext) -> float:
    """Multiplier of each conversion's value (campaign)."""
    return CAMPAIGN_VALUE if ctx.campaign else 1.0


def network_ms(ctx: FleetContext) -> float:
    """Network latency added to every visit (region)."""
    return NETWORK_MS[ctx.region]


def context_features(ctx: FleetContext) -> np.ndarray:
    """The context's feature vector (one-hots, campaign flag, load level, network latency)."""
    hot = [
        [1.0 if ctx.pattern == p else 0.0 for p in PATTERNS],
        [1.0 if ctx.day_part() == d else 0.0 for d in DAY_PARTS],
        [1.0 if ctx.region == r else 0.0 for r in REGIONS],
        [1.0 if ctx.campaign else 0.0],
        [math.log2(traffic_factor(ctx)), network_ms(ctx) / 100.0],
    ]
    return np.concatenate([np.array(h) for h in hot])


def as_context(value: FleetContext | str | dict[str, object]) -> FleetContext:
    """A context from a context, a bare traffic pattern (older personas) or a dict."""
    if isinstance(value, FleetContext):
        return value.context()
    if isinstance(value, str):
        return FleetContext.model_validate({"pattern": value})
    return FleetContext.model_validate(value)
