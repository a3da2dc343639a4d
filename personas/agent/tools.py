"""Tools over a persona's scope: their JSON-schema definitions and the scope check.

A tool works on one resource of one type at a level (``files.list``, ``files.read``,
``files.search``: read on a ``files`` resource; ``sql.query``: a read-only query of a
``sql`` resource). The definitions a model sees are generated from the persona's current
scope: a tool is offered only when some resource in scope can serve it, and its
``resource`` parameter enumerates exactly those resources. Whatever the model calls is
checked again (:func:`check_call`) before anything runs; a refusal goes back to the model as
the tool's error.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personas.agent.resources import Level, ResourceType, Scope

MAX_ARGS_JSON = 4096
MAX_PATH = 512
MAX_QUERY = 200
MAX_SQL = 2000
MAX_CALLS_PER_STEP = 8
MAX_CALL_BYTES = 64 * 1024
"""The most bytes one tool call may read, write or send (the sandbox cuts its output there);
what a metered call draws from its turn's hold before it runs."""


class ToolSpec(BaseModel):
    """A tool: its name, what resource it needs, and its parameters besides ``resource``."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    type: ResourceType
    level: Level
    parameters: dict[str, Any]
    required: tuple[str, ...]


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="files.list",
            description="List the files under a directory of a files resource.",
            type=ResourceType.FILES,
            level=Level.READ,
            parameters={
                "path": {
                    "type": "string",
                    "maxLength": MAX_PATH,
                    "description": "a relative directory ('.' for the top)",
                }
            },
            required=(),
        ),
        ToolSpec(
            name="files.read",
            description="Read one text file of a files resource.",
            type=ResourceType.FILES,
            level=Level.READ,
            parameters={"path": {"type": "string", "maxLength": MAX_PATH}},
            required=("path",),
        ),
        ToolSpec(
            name="files.search",
            description="Find the lines of a files resource that contain every word of a query.",
            type=ResourceType.FILES,
            level=Level.READ,
            parameters={"query": {"type": "string", "maxLength": MAX_QUERY}},
            required=("query",),
        ),
        ToolSpec(
            name="sql.query",
            description="Run one read-only SQL query (SELECT or WITH) on a SQLite resource.",
            type=ResourceType.SQL,
            level=Level.READ,
            parameters={"sql": {"type": "string", "maxLength": MAX_SQL}},
            required=("sql",),
        ),
    )
}


def wire_name(tool: str) -> str:
    """The function name a model sees (OpenAI function names allow no dots)."""
    return tool.replace(".", "_")


_FROM_WIRE = {wire_name(name): name for name in TOOLS}


def tool_from_wire(name: str) -> str:
    """The tool a model's function name means (unknown names pass through, to be refused)."""
    return _FROM_WIRE.get(name, name)


def tool_definitions(scope: Scope) -> list[dict[str, Any]]:
    """The JSON-schema function tools the persona may call now, in chat-completions form."""
    defs: list[dict[str, Any]] = []
    for spec in TOOLS.values():
        names = sorted(
            r.resource.name
            for r in scope.resources
            if r.resource.type is spec.type and r.level.covers(spec.level)
        )
        if not names:
            continue
        properties = {"resource": {"type": "string", "enum": names}, **spec.parameters}
        defs.append(
            {
                "type": "function",
                "function": {
                    "name": wire_name(spec.name),
                    "description": spec.description,
                    "parameters": {
                        "type": "object",
                        "properties": properties,
                        "required": ["resource", *spec.required],
                        "additionalProperties": False,
                    },
                },
            }
        )
    return defs


class ToolCall(BaseModel):
    """A tool call a model asked for: its id, the tool and the arguments as sent."""

    model_config = ConfigDict(frozen=True)

    call_id: str = Field(min_length=1, max_length=128)
    tool: str = Field(min_length=1, max_length=64)
    arguments: str = Field(max_length=MAX_ARGS_JSON)
    """The arguments as the model sent them: a JSON object, unparsed."""

    def digest(self) -> str:
        """SHA-256 of the tool and its arguments, for the audit."""
        return hashlib.sha256(f"{self.tool}\n{self.arguments}".encode()).hexdigest()


class CheckedCall(BaseModel):
    """A call the scope allows, with its arguments parsed."""

    model_config = ConfigDict(frozen=True)

    call: ToolCall
    resource: str
    args: dict[str, str]


class Refusal(BaseModel):
    """A call the scope does not allow, and why (sent back to the model as the tool error)."""

    model_config = ConfigDict(frozen=True)

    call: ToolCall
    resource: str
    reason: str = Field(max_length=300)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: str = Field(min_length=1, max_length=64)
    path: str | None = Field(default=None, max_length=MAX_PATH)
    query: str | None = Field(default=None, min_length=1, max_length=MAX_QUERY)
    sql: str | None = Field(default=None, min_length=1, max_length=MAX_SQL)


_READ_ONLY_SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|replace|drop|create|alter|attach|detach|pragma|vacuum|reindex)\b",
    re.IGNORECASE,
)


def safe_relative_path(path: str) -> bool:
    """Whether ``path`` stays inside its resource: relative, no ``..``, no NUL, no ``~``."""
    if path.startswith(("/", "~", "\\")) or "\x00" in path:
        return False
    return all(part != ".." for part in re.split(r"[/\\]", path))


def read_only_sql(sql: str) -> bool:
    """Whether ``sql`` is one SELECT/WITH statement with no writing keyword.

    A first line of defence; the sandbox opens the database read-only whatever this says.
    """
    body = sql.strip().rstrip(";")
    return bool(_READ_ONLY_SQL.match(body)) and ";" not in body and not _WRITE_WORDS.search(body)


def _resource_of(arguments: str) -> str:
    try:
        value = json.loads(arguments)
    except ValueError:
        return ""
    resource = value.get("resource") if isinstance(value, dict) else None
    return resource[:64] if isinstance(resource, str) else ""


def check_call(scope: Scope, call: ToolCall) -> CheckedCall | Refusal:
    """Allow ``call`` only when its tool exists, its arguments are valid and its resource is
    in ``scope`` with the type and level the tool needs."""
    resource = _resource_of(call.arguments)

    def refuse(reason: str) -> Refusal:
        return Refusal(call=call, resource=resource, reason=reason[:300])

    spec = TOOLS.get(call.tool)
    if spec is None:
        return refuse(f"unknown tool {call.tool[:40]!r}; known: {', '.join(TOOLS)}")
    try:
        args = _Args.model_validate_json(call.arguments)
    except ValidationError as err:
        return refuse(f"invalid arguments: {err.errors()[0]['msg']}"[:300])
    held = scope.find(args.resource)
    if held is None:
        return refuse(f"resource {args.resource!r} is not in this persona's scope")
    if held.resource.type is not spec.type:
        return refuse(f"resource {args.resource!r} is {held.resource.type}, not {spec.type}")
    if not held.level.covers(spec.level):
        return refuse(f"{spec.name} needs {spec.level} on {args.resource!r}")
    given = {k: v for k, v in args.model_dump().items() if v is not None and k != "resource"}
    allowed = {"resource", *spec.parameters}
    extra = sorted(set(given) - allowed)
    if extra:
        return refuse(f"{spec.name} takes no {', '.join(extra)}")
    missing = [k for k in spec.required if k not in given]
    if missing:
        return refuse(f"{spec.name} needs {', '.join(missing)}")
    if "path" in given and not safe_relative_path(given["path"]):
        return refuse(f"path {given['path'][:40]!r} leaves the resource")
    if "sql" in given and not read_only_sql(given["sql"]):
        return refuse("sql.query runs one read-only SELECT or WITH statement")
    return CheckedCall(call=call, resource=args.resource, args=given)
