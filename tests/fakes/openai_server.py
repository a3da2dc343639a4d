"""A FAKE OpenAI-compatible chat-completions server, for tests: no model can run here.

It follows the published chat-completions protocol with tool calling
(https://platform.openai.com/docs/api-reference/chat/create and the function-calling guide):
``POST /v1/chat/completions`` with ``model``, ``messages`` and optional ``tools``
(``{"type": "function", "function": {"name", "description", "parameters"}}``); an assistant
reply either has ``content`` or ``tool_calls`` (``{"id", "type": "function", "function":
{"name", "arguments"}}``, ``finish_reason: "tool_calls"``), and every ``tool`` message must
answer a ``tool_call_id`` of the assistant message before it, as the real API insists (a
400 otherwise). What it answers is decided by the scripted planner
(:mod:`personas.agent.planner`), so a turn through it uses the same tools as offline.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from personas.agent.planner import plan
from personas.agent.tools import wire_name

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ProtocolError(ValueError):
    """A request the real API would refuse with 400."""


def check_request(body: dict[str, Any]) -> None:
    """Refuse what the published protocol does not allow."""
    if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
        raise ProtocolError("model and messages are required")
    for tool in body.get("tools") or []:
        name = tool.get("function", {}).get("name", "")
        if tool.get("type") != "function" or not FUNCTION_NAME.match(name):
            raise ProtocolError(f"invalid tool {name!r}")
    open_calls: set[str] = set()
    for m in body["messages"]:
        if m.get("role") == "assistant":
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
        elif m.get("role") == "tool":
            if m.get("tool_call_id") not in open_calls:
                raise ProtocolError("a tool message must answer a preceding tool_calls id")
        else:
            open_calls = set()


def completion(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The chat.completion object the planner's reply becomes."""
    reply = plan(body["messages"], body.get("tools") or [])
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": wire_name(c.tool), "arguments": c.arguments},
            }
            for c in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-fake-{n}",
        "object": "chat.completion",
        "created": 1_700_000_000 + n,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.tokens_in,
            "completion_tokens": reply.tokens_out,
            "total_tokens": reply.tokens_in + reply.tokens_out,
        },
    }


class FakeOpenAI(BaseHTTPRequestHandler):
    """The handler; ``requests`` holds every request body it was sent."""

    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        """Answer ``/v1/chat/completions``."""
        length = int(self.headers.get("Content-Length", 0))
        try:
            body = json.loads(self.rfile.read(length))
            if self.path != "/v1/chat/completions":
                raise ProtocolError(f"unknown path {self.path}")
            check_request(body)
        except (ValueError, KeyError, TypeError) as err:
            self._send(400, {"error": {"message": str(err)[:200], "type": "invalid_request"}})
            return
        type(self).requests.append(body)
        self._send(200, completion(body, len(type(self).requests)))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def fake_openai() -> Iterator[str]:
    """Run the fake on a free local port; yields its base URL (``.../v1``)."""
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
