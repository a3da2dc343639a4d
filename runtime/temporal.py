"""Connecting to Temporal the way every part of the project does: pydantic on the wire."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from runtime.converter import data_converter
from runtime.settings import Settings


async def connect(
    settings: Settings, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """A Temporal client that speaks pydantic (on ``runtime``, the SDK's telemetry, and with
    ``interceptors``, which workers on this client use too when they are worker interceptors)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
        runtime=runtime,
        interceptors=interceptors,
    )
