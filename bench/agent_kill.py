"""The agent benchmark's kill test: turns in flight at a tool step when their worker process
is SIGKILLed, finished by a new worker process with every step's work done exactly once.

The workers are this file run as a script (``python bench/agent_kill.py CONFIG``): agent
activities whose step counter and sandbox log every step done and every command run to a
file with single appends (which survive the kill), and whose hook hangs the first worker at
each turn's second tool step, the kill point.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client

from activities.agent.activities import IMAGE_CACHE, AgentActivities, StepHook
from activities.agent.sandbox import AgentSandboxes, Run, session_of
from activities.app.images import ImageBuilder
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from bench._common import log, short_id, wait_for
from bench.agent_tasks import answer_of
from clients.api import PersonaClient
from runtime.converter import data_converter
from tests.workflow.agent_support import AgentRig, worker

SELF = str(Path(__file__).resolve())
KILL_QUESTION = (
    "search the handbook for refund. how many orders in total? list the files in handbook"
)


class LoggedExecutions(Counter[tuple[str, str, int]]):
    """The activities' count of steps done, also logged (``done PERSONA ITEM STEP``)."""

    def __init__(self, log_path: Path) -> None:
        super().__init__()
        self.log_path = log_path

    def __setitem__(self, key: tuple[str, str, int], value: int) -> None:
        append(self.log_path, "done", *map(str, key))
        super().__setitem__(key, value)


class LoggedSandboxes(AgentSandboxes):
    """Agent sandboxes logging each command they run (``tool SESSION ARGV0``)."""

    def __init__(self, log_path: Path) -> None:
        super().__init__(ImageBuilder(IMAGE_CACHE))
        self.log_path = log_path

    def run(self, session: str, argv: list[str], output_limit: int = 64 * 1024) -> Run:
        """Log, then run."""
        append(self.log_path, "tool", session, argv[0])
        return super().run(session, argv, output_limit)


def append(path: Path, *words: str) -> None:
    """One line appended with a single write (it survives the process being killed)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (" ".join(words) + "\n").encode())
    finally:
        os.close(fd)


def stall_hook(log_path: Path, stall: bool) -> StepHook:
    """Log each step attempt; with ``stall``, hang at the second tool step (the kill point)."""

    async def hook(kind: str, item_id: str, step: int) -> None:
        append(log_path, "attempt", kind, item_id, str(step))
        if stall and kind == "tool" and step == 2:
            append(log_path, "reached", item_id)
            await asyncio.Event().wait()

    return hook


async def serve(config: dict[str, Any]) -> None:
    """The worker process of the kill test: serve the queue until SIGTERM (or SIGKILL)."""
    client = await Client.connect(config["target"], data_converter=data_converter)
    store = Store(config["database_url"])
    log_path = Path(config["log"])
    provider = OfflineDeterministicProvider()
    acts = AgentActivities(
        store,
        provider,
        LoggedSandboxes(log_path),
        deployment=config["deployment"],
        before_step=stall_hook(log_path, config["stall"]),
    )
    acts.executions = LoggedExecutions(log_path)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with worker(client, store, config["queue"], acts, provider):
        print("worker ready", flush=True)
        await stop.wait()


async def spawn(config: dict[str, Any]) -> asyncio.subprocess.Process:
    """A worker process for the kill test, once it serves."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        SELF,
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
    if b"worker ready" not in line:
        raise RuntimeError(f"the kill-test worker did not start: {line!r}")
    return proc


async def run_kills(rig: AgentRig, client: Client, turns: int, tmp: Path) -> dict[str, Any]:
    """``turns`` turns, each of a persona of its own, in flight at their second tool step
    when their worker process is SIGKILLed; a new worker process finishes them."""
    queue = f"bench-kill-{short_id()}"
    log_path = tmp / "kill.log"
    config = {
        "target": client.service_client.config.target_host,
        "database_url": rig.store.url,
        "queue": queue,
        "deployment": rig.acts.sandboxes.deployment,
        "log": str(log_path),
        "stall": True,
    }
    personas = PersonaClient(client, rig.store, queue)
    killing = AgentRig(personas, rig.agents, rig.acts, rig.store, rig.locations)
    first = await spawn(config)
    pids = [await killing.agent(f"Kill{i}", ["handbook:read", "shop:read"]) for i in range(turns)]
    items = [
        (pid, await personas.post_to_persona(pid, KILL_QUESTION, "bob", priority=0.9))
        for pid in pids
    ]

    async def reached() -> int:
        text = log_path.read_text() if log_path.exists() else ""
        return sum(1 for line in text.splitlines() if line.startswith("reached "))

    _, all_reached = await wait_for(reached, lambda n: n >= turns, 120)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    log(f"worker killed with {await reached()} of {turns} turns at their second tool step")
    second = await spawn({**config, "stall": False})
    try:
        answers = [await answer_of(rig.store, pid, item.item_id) for pid, item in items]
    finally:
        second.terminate()
        await second.wait()
    lines = log_path.read_text().splitlines()
    resumed = 0
    for (pid, item), answer in zip(items, answers, strict=True):
        steps = [s for s, _, _ in rig.acts.agents.list_steps(pid, item.item_id)]
        done = Counter(ln for ln in lines if ln.startswith(f"done {pid} {item.item_id} "))
        commands = sum(1 for ln in lines if ln.startswith(f"tool {session_of(pid)} "))
        once = steps == [0, 1, 2, 3, 4] and len(done) == 5 and set(done.values()) == {1}
        right = "the answer from shop is 60" in answer and "handbook holds 6 files" in answer
        if all_reached and once and commands == 3 and right:
            resumed += 1
        else:
            log(f"not resumed cleanly: steps {steps}, done {dict(done)}, {commands} commands")
    return {"turns_killed": turns, "turn_resumes_after_kill": resumed}


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
