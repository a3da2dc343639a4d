"""The ``files`` and ``sql`` tools, run inside the persona's sandbox.

Each tool becomes one command (busybox ``find``, ``head``, ``grep``; ``sqlite3 -readonly
-safe`` on the immutable file) whose arguments are passed as separate argv entries, never
through a shell. Paths are joined under the resource's mount point (the scope check already
refused absolute paths and ``..``; the sandbox mounts nothing else anyway). Output is bounded
in the sandbox (``head -c``) and again here: lines, rows and characters.
"""

from __future__ import annotations

import json
import posixpath

from pydantic import BaseModel, ConfigDict

from activities.agent.sandbox import AgentSandboxes, Run, mount_point
from personas.agent.resources import ScopedResource
from personas.agent.tools import CheckedCall
from personas.agent.turn import MAX_TOOL_OUTPUT

MAX_ROWS = 200
MAX_LINES = 200
READ_LIMIT = 32 * 1024
SKIP_VCS = ["-name", ".git", "-prune", "-o"]
"""A repository checkout is listed and searched without its ``.git`` internals (they can
still be read by path)."""


class ToolRun(BaseModel):
    """A tool's output for the model (bounded) and its meters."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    output: str
    cpu_ms: int
    elapsed_ms: float
    bytes_read: int
    bytes_written: int = 0


def _under(root: str, path: str) -> str:
    joined = posixpath.normpath(posixpath.join(root, path or "."))
    return joined if joined == root or joined.startswith(root + "/") else root


def _lines(text: str, root: str) -> list[str]:
    prefix = root + "/"
    found = (ln.removeprefix(prefix) for ln in text.splitlines() if ln)
    return [ln for ln in found if not ln.startswith(".git/")][:MAX_LINES]


def argv_of(checked: CheckedCall, held: ScopedResource) -> list[str]:
    """The command a call runs in the sandbox."""
    root = mount_point(held)
    args = checked.args
    tool = checked.call.tool
    if tool == "files.list":
        return ["find", _under(root, args.get("path", ".")), *SKIP_VCS, "-type", "f", "-print"]
    if tool == "files.read":
        return ["head", "-c", str(READ_LIMIT), _under(root, args["path"])]
    if tool == "files.search":
        words = args["query"].split() or [args["query"]]
        return ["grep", "-rniF", "-e", words[0], root]
    if tool == "sql.query":
        body = args["sql"].strip().rstrip(";")
        wrapped = f"SELECT * FROM ({body}) LIMIT {MAX_ROWS + 1}"
        return ["sqlite3", "-readonly", "-safe", "-json", f"file:{root}?immutable=1", wrapped]
    raise ValueError(f"no runner for tool {tool[:40]}")


def _format(checked: CheckedCall, held: ScopedResource, run: Run) -> str:
    root = mount_point(held)
    text = run.stdout.decode(errors="replace")
    tool = checked.call.tool
    if tool == "files.list":
        return "\n".join(sorted(_lines(text, root)))
    if tool == "files.search":
        words = [w.lower() for w in checked.args["query"].split()]
        hits = [ln for ln in _lines(text, root) if all(w in ln.lower() for w in words)]
        return "\n".join(hits)
    if tool == "sql.query":
        rows = json.loads(text) if text.strip() else []
        columns = list(rows[0]) if rows else []
        body = {
            "columns": columns,
            "rows": [list(r.values()) for r in rows[:MAX_ROWS]],
            "truncated": len(rows) > MAX_ROWS,
        }
        return json.dumps(body)
    return text


def run_tool(
    sandboxes: AgentSandboxes, session: str, checked: CheckedCall, held: ScopedResource
) -> ToolRun:
    """Run the call in ``session``'s sandbox; a failure is an error result, not an exception
    (the model reads it), except a sandbox that is gone (the activity retries)."""
    run = sandboxes.run(session, argv_of(checked, held))
    meters = {"cpu_ms": run.cpu_ms, "elapsed_ms": run.elapsed_ms, "bytes_read": len(run.stdout)}
    no_match = checked.call.tool == "files.search" and run.exit_code == 1 and not run.stdout
    if run.exit_code != 0 and not no_match:
        reason = "time limit exceeded" if run.exit_code == 137 else _first_error(run)
        return ToolRun(ok=False, output=reason, **meters)
    try:
        output = _format(checked, held, run)
    except ValueError as err:
        return ToolRun(ok=False, output=f"unreadable tool output: {err}"[:300], **meters)
    return ToolRun(ok=True, output=output[:MAX_TOOL_OUTPUT], **meters)


def _first_error(run: Run) -> str:
    lines = [ln for ln in run.stderr.splitlines() if ln.strip() and not ln[0].isdigit()]
    first = lines[0] if lines else f"exit code {run.exit_code}"
    return first.replace("/res/", "")[:300]
