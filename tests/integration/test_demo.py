"""The main job, end to end: ``personas-demo`` starts a dev server, a worker and the scenario."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port


def test_demo_runs_the_scenario_and_stops_its_server(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PERSONAS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "PERSONAS_UI_PORT": str(free_port()),
        "PERSONAS_API_PORT": str(free_port()),
        "PERSONAS_STATE_DIR": str(tmp_path / "var"),
    }
    demo = Path(sys.executable).parent / "personas-demo"
    done = subprocess.run(
        [str(demo), "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "started the Temporal dev server" in out
    assert "answered in standup" in out
    for name in ("Helper", "Reviewer", "Planner"):
        assert f"  {name} " in out
    assert "/namespaces/default/workflows?query=PersonaKind" in out
    assert "the REST API lists acme's personas: Helper, Planner, Reviewer" in out
    assert "/console" in out
    assert (tmp_path / "var" / "temporal.db").exists()  # the server's state persists
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # and the server is gone
