"""``personas-demo`` stopped by SIGTERM to its process group: worker first, then the server,
within a bound (as ``timeout``, supervisors and terminals signal it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import free_port, listening

BOUND_S = 30.0


def test_sigterm_to_the_group_stops_the_worker_then_the_server(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PERSONAS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "PERSONAS_UI_PORT": str(free_port()),
        "PERSONAS_API_PORT": str(free_port()),
        "PERSONAS_STATE_DIR": str(tmp_path / "var"),
        "PERSONAS_TASK_QUEUE": "demo-sigterm",
        "PERSONAS_SETTINGS_FILE": str(tmp_path / "none.env"),
    }
    demo = Path(sys.executable).with_name("personas-demo")
    proc = subprocess.Popen(
        [str(demo)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the worker serves the scenario
            lines.append(line)
            if "posting a dependency chain" in line:
                break
        assert listening(port), "".join(lines)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        rest, _ = proc.communicate(timeout=BOUND_S)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = "".join(lines) + rest
    assert took < BOUND_S
    assert out.index("stopped the worker") < out.index("stopped the Temporal dev server"), out
    assert not listening(port)
