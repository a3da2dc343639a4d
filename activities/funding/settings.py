"""Settings of the funding system (``PERSONAS_FUNDING_*``), read from the environment or the
settings file like :mod:`runtime.settings`."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from personas.funding.rules import DEFAULT_MAX_CHANGE_PERCENT


class FundingSettings(BaseSettings):
    """Deployment bounds that no rules document can lift."""

    model_config = SettingsConfigDict(
        env_prefix="PERSONAS_FUNDING_",
        env_file=os.environ.get("PERSONAS_SETTINGS_FILE", "personas.env"),
        extra="ignore",
    )

    max_change_percent: float = Field(
        default=DEFAULT_MAX_CHANGE_PERCENT, gt=0, le=1000, allow_inf_nan=False
    )
    """``PERSONAS_FUNDING_MAX_CHANGE_PERCENT``: the largest change of an allocation one rule
    may make, in percent. A rules document may state a lower cap, never a higher one; a
    stored document is applied within this cap too."""


def get_funding_settings() -> FundingSettings:
    """Fresh settings from the environment and the settings file."""
    return FundingSettings()
