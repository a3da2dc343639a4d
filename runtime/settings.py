"""Settings read from the environment (``PERSONAS_*``) or a settings file.

The settings file defaults to ``personas.env`` in the working directory and can be
pointed elsewhere with ``PERSONAS_SETTINGS_FILE``. Environment variables win over the file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the workers, the client and the CLI read."""

    model_config = SettingsConfigDict(
        env_prefix="PERSONAS_",
        env_file=os.environ.get("PERSONAS_SETTINGS_FILE", "personas.env"),
        extra="ignore",
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "personas"
    ui_port: int = 8233
    state_dir: Path = Path("var")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means a SQLite file in state_dir."
    )
    model_provider: Literal["offline", "openai"] = "offline"
    model_base_url: str = "http://127.0.0.1:11434/v1"
    model_api_key: SecretStr = SecretStr("")
    model_timeout_s: float = 60.0
    model_images: bool = Field(
        default=True, description="the model reads images: send image blobs as image_url parts"
    )
    fleet_driver: Literal["sim", "testbed"] = Field(
        default="sim",
        description="the fleet the worker's fleet activities drive: sim or testbed",
    )
    """``PERSONAS_FLEET_DRIVER``: ``sim`` adapts and A/B tests fleets in the calibrated
    simulator; ``testbed`` drives real nginx testbeds on 127.0.0.1 (one per fleet, started on
    first use, and one per A/B variation, all stopped when the worker stops)."""
    fleet_testbed_base_port: int = Field(default=0, ge=0, le=64535)
    """``PERSONAS_FLEET_TESTBED_BASE_PORT``: first loopback port of the range (1000 ports) the
    testbeds' nginx and replicas take; 0 means any free port."""
    fleet_testbed_max_rate_rps: float = Field(default=300.0, gt=0, le=1000)
    """``PERSONAS_FLEET_TESTBED_MAX_RATE_RPS``: cap on the load replayed against a testbed."""

    instance_reconcile_every_s: float = Field(default=300.0, gt=0, le=86_400)
    """``PERSONAS_INSTANCE_RECONCILE_EVERY_S``: how often a host worker removes the instance
    containers on its host whose negotiation is no longer running (also once at start)."""

    metrics_host: str = "127.0.0.1"
    """``PERSONAS_METRICS_HOST``: the address the worker's metrics endpoints listen on."""
    sdk_metrics_port: int = Field(default=9464, ge=0, le=65535)
    """``PERSONAS_SDK_METRICS_PORT``: the Temporal SDK's runtime metrics for Prometheus
    (``/metrics``); 0 turns them off."""
    metrics_port: int = Field(default=9465, ge=0, le=65535)
    """``PERSONAS_METRICS_PORT``: the domain's metrics (``personas_*``) for Prometheus; 0 turns
    them off."""

    api_host: str = "127.0.0.1"
    """``PERSONAS_API_HOST``: the address the REST API (``personas-api``) listens on."""
    api_port: int = Field(default=8080, ge=1, le=65535)
    """``PERSONAS_API_PORT``: the REST API's port."""

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``state_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'personas.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
