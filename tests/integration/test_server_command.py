"""``personas server`` runs the dev server with the project's search attributes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from runtime.search_attributes import ALL_SEARCH_ATTRIBUTES
from tests.helpers import free_port, listening


async def registered_attributes(port: int) -> set[str]:
    """The custom search attributes of the server at ``port``."""
    client = await Client.connect(f"127.0.0.1:{port}")
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    return set(listed.custom_attributes)


def test_personas_server_starts_the_dev_server_with_the_search_attributes(
    tmp_path: Path,
) -> None:
    port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "PERSONAS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "PERSONAS_UI_PORT": str(ui_port),
        "PERSONAS_STATE_DIR": str(tmp_path / "var"),
        "PERSONAS_SETTINGS_FILE": str(tmp_path / "none.env"),
    }
    cli = Path(sys.executable).with_name("personas")
    proc = subprocess.Popen([str(cli), "server"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in banner
        assert "PersonaName" in banner
        deadline = time.monotonic() + 60
        while not listening(port):
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.2)
        wanted = {k.name for k in ALL_SEARCH_ATTRIBUTES}
        assert wanted <= asyncio.run(registered_attributes(port))
        # A second one refuses: the address is taken.
        again = subprocess.run(
            [str(cli), "server"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 2
        assert "already answers" in again.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
