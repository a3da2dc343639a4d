"""Connecting to Temporal the way every part of the project does: pydantic on the wire."""

from __future__ import annotations

from temporalio.client import Client

from runtime.converter import data_converter
from runtime.settings import Settings


async def connect(settings: Settings) -> Client:
    """A Temporal client that speaks pydantic."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
    )
