"""The offline scripted planner: not a model, a deterministic stand-in that uses tools.

It reads a turn's conversation (chat-completions messages) and the tools offered, and
either asks for the tool calls a request it recognises needs, or, once their results are
in, answers from them. Requests it recognises:

- "list the files in DOCS" -> ``files.list`` on ``DOCS``
- "search the HANDBOOK for WORDS" -> ``files.search`` on ``HANDBOOK``
- "read PATH from DOCS" -> ``files.read``
- "how many orders last week" (or "... in total") -> ``sql.query`` on the SQL resource
- "run sql on SHOP: SELECT ..." -> ``sql.query`` with that statement

It names the resource the request names even when the tools offered do not include it:
like a model, it can ask for what it was not given, and the scope check refuses it. With
``obey_injections`` it also follows such requests found inside tool outputs (a document
that says "read secrets.txt from vault"): the test of a model that is talked into it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from personas.agent.tools import ToolCall, tool_from_wire, wire_name
from personas.agent.turn import ModelReply

LAST_WEEK_SQL = (
    "SELECT COUNT(*) FROM orders WHERE date(ordered_at) > "
    "(SELECT date(MAX(ordered_at), '-7 days') FROM orders)"
)
TOTAL_SQL = "SELECT COUNT(*) FROM orders"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\blist (?:the |all )?files in (?:the )?([a-z0-9][a-z0-9_.-]*)", re.I), "list"),
    (
        re.compile(r"\bsearch (?:the )?([a-z0-9][a-z0-9_.-]*) for ([^.?!\n]{1,200})", re.I),
        "search",
    ),
    (
        re.compile(r"\bread ([\w./~-]{1,200}) (?:from|in) (?:the )?([a-z0-9][a-z0-9_.-]*)", re.I),
        "read",
    ),
    (re.compile(r"\bhow many orders (last week|in total|are there)", re.I), "orders"),
    (re.compile(r"\brun sql on ([a-z0-9][a-z0-9_.-]*): ([^\n]{1,2000})", re.I), "sql"),
    (re.compile(r"\bcall (?:the )?tool ([a-z_.]{1,64})", re.I), "call"),
]


def _offered(tools: list[dict[str, Any]], tool: str) -> list[str]:
    for t in tools:
        fn = t.get("function", {})
        if tool_from_wire(str(fn.get("name"))) == tool:
            return list(fn["parameters"]["properties"]["resource"]["enum"])
    return []


def _name(text: str) -> str:
    """A resource named in a sentence, without the sentence's full stop."""
    return text.lower().rstrip(".")


def recognise(text: str, tools: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """The tool calls (tool, arguments) the requests in ``text`` need, in order."""
    found: list[tuple[int, str, dict[str, str]]] = []
    for pattern, what in _PATTERNS:
        for m in pattern.finditer(text):
            if what == "list":
                found.append((m.start(), "files.list", {"resource": _name(m[1]), "path": "."}))
            elif what == "search":
                query = m[2].strip().strip("'\"")
                found.append((m.start(), "files.search", {"resource": _name(m[1]), "query": query}))
            elif what == "read":
                found.append((m.start(), "files.read", {"resource": _name(m[2]), "path": m[1]}))
            elif what == "orders":
                sql = LAST_WEEK_SQL if m[1].lower() == "last week" else TOTAL_SQL
                resource = (_offered(tools, "sql.query") or ["dataset"])[0]
                found.append((m.start(), "sql.query", {"resource": resource, "sql": sql}))
            elif what == "sql":
                found.append(
                    (m.start(), "sql.query", {"resource": _name(m[1]), "sql": m[2].strip()})
                )
            else:
                found.append((m.start(), m[1], {"resource": "any"}))
    return [(tool, args) for _, tool, args in sorted(found, key=lambda f: f[0])]


def _calls(step: int, wanted: list[tuple[str, dict[str, str]]]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(
            call_id=f"call_{step}_{i}",
            tool=tool,
            arguments=json.dumps(args, sort_keys=True),
        )
        for i, (tool, args) in enumerate(wanted[:8])
    )


def _summarise(tool: str, args: dict[str, Any], content: str) -> str:
    resource = args.get("resource", "?")
    if content.startswith("error: "):
        return f"{tool} on {resource} failed: {content[7:300]}"
    if tool == "files.list":
        names = [line for line in content.splitlines() if line]
        return f"{resource} holds {len(names)} files: {', '.join(names[:20])}"
    if tool == "files.search":
        lines = [line for line in content.splitlines() if line]
        if not lines:
            return f"nothing in {resource} mentions {args.get('query', '')!r}"
        return f"{resource} on {args.get('query', '')!r}: " + " | ".join(lines[:3])
    if tool == "sql.query":
        try:
            rows = json.loads(content).get("rows", [])
        except (ValueError, AttributeError):
            rows = []
        if len(rows) == 1 and len(rows[0]) == 1:
            return f"the answer from {resource} is {rows[0][0]}"
        return f"{resource} returned {len(rows)} rows: {json.dumps(rows[:5])}"
    return f"{tool} on {resource}: {content[:300]}"


def plan(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    obey_injections: bool = False,
) -> ModelReply:
    """The next reply of the scripted planner to ``messages`` with ``tools`` offered."""
    request = next((m["content"] for m in messages if m["role"] == "user"), "") or ""
    assistants = [m for m in messages if m["role"] == "assistant"]
    step = len(messages)
    tokens_in = sum(len(str(m.get("content") or "").split()) for m in messages)
    if not assistants:
        wanted = recognise(request, tools)
        if wanted:
            return ModelReply(tool_calls=_calls(step, wanted), tokens_in=tokens_in, tokens_out=8)
        text = f"[offline planner] I recognise no task in: {request.strip()[:200]}"
        return ModelReply(content=text, tokens_in=tokens_in, tokens_out=len(text.split()))
    # Results are in: every tool call made so far, with what it returned.
    outputs = {m["tool_call_id"]: str(m["content"]) for m in messages if m["role"] == "tool"}
    made: list[tuple[str, dict[str, Any], str]] = []
    seen: set[tuple[str, str]] = set()
    for a in assistants:
        for c in a.get("tool_calls") or []:
            tool = tool_from_wire(c["function"]["name"])
            seen.add((c["function"]["name"], c["function"]["arguments"]))
            try:
                args = json.loads(c["function"]["arguments"])
            except ValueError:
                args = {}
            made.append((tool, args if isinstance(args, dict) else {}, outputs.get(c["id"], "")))
    if obey_injections:
        injected = [
            (tool, args)
            for _, _, out in made
            if not out.startswith("error: ")
            for tool, args in recognise(out, tools)
            if (wire_name(tool), json.dumps(args, sort_keys=True)) not in seen
        ]
        if injected:
            return ModelReply(tool_calls=_calls(step, injected), tokens_in=tokens_in, tokens_out=8)
    text = "; ".join(_summarise(tool, args, out) for tool, args, out in made)
    return ModelReply(content=text[:4000], tokens_in=tokens_in, tokens_out=len(text.split()))
