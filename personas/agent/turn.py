"""An agent turn as a state machine: model step, tool steps, ... until an answer or a limit.

Every step (a model call or one tool call) has a number, so it can be keyed by persona, item
and step and done once. The workflow asks :func:`next_action` what to do, does it (an
activity), and folds the result back in with :func:`after_model` or :func:`after_tool`.
The conversation itself is not kept here: it is rebuilt from the recorded steps
(:func:`build_messages`), so the state stays small whatever the tools returned.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from personas.agent.tools import MAX_CALLS_PER_STEP, ToolCall, wire_name

DEFAULT_MAX_STEPS = 12
MAX_STEPS = 64
MAX_ANSWER = 4000
MAX_TOOL_OUTPUT = 8000

Outcome = Literal["running", "answered", "step_limit", "unfunded", "failed"]


class ModelReply(BaseModel):
    """What one model call returned: an answer, or tool calls to make first."""

    model_config = ConfigDict(frozen=True)

    content: str | None = Field(default=None, max_length=MAX_ANSWER)
    tool_calls: tuple[ToolCall, ...] = Field(default=(), max_length=MAX_CALLS_PER_STEP)
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)


class ToolResult(BaseModel):
    """What one tool call gave back to the model: output, or an error (a refusal too)."""

    model_config = ConfigDict(frozen=True)

    call_id: str = Field(max_length=128)
    tool: str = Field(max_length=64)
    ok: bool
    output: str = Field(max_length=MAX_TOOL_OUTPUT)
    refused: bool = False
    elapsed_ms: float = Field(default=0.0, ge=0)


class StepRecord(BaseModel):
    """One recorded step: its number, its kind and its result."""

    model_config = ConfigDict(frozen=True)

    step: int = Field(ge=0)
    kind: Literal["model", "tool"]
    model: ModelReply | None = None
    tool: ToolResult | None = None


class ModelStep(BaseModel):
    """Call the model at this step."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["model"] = "model"
    step: int


class ToolStep(BaseModel):
    """Make this tool call at this step (once the scope allows it)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["tool"] = "tool"
    step: int
    call: ToolCall


class Finished(BaseModel):
    """The turn is over."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["finished"] = "finished"
    outcome: Outcome


class TurnState(BaseModel):
    """Where a turn is: the next step's number, the tool calls still to make, the answer."""

    model_config = ConfigDict(frozen=True)

    persona_id: str = Field(max_length=255)
    item_id: str = Field(max_length=255)
    max_steps: int = Field(default=DEFAULT_MAX_STEPS, ge=1, le=MAX_STEPS)
    step: int = Field(default=0, ge=0)
    pending: tuple[ToolCall, ...] = Field(default=(), max_length=MAX_CALLS_PER_STEP)
    outcome: Outcome = "running"
    answer: str | None = Field(default=None, max_length=MAX_ANSWER)
    tool_calls: int = 0
    refusals: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


def agent_turn_workflow_id(persona_id: str, item_id: str) -> str:
    """The id of the child workflow that runs the persona's turn on an item."""
    return f"agent-turn-{persona_id}-{item_id}"


def next_action(state: TurnState) -> ModelStep | ToolStep | Finished:
    """What the turn does next."""
    if state.outcome != "running":
        return Finished(outcome=state.outcome)
    if state.step >= state.max_steps:
        return Finished(outcome="step_limit")
    if state.pending:
        return ToolStep(step=state.step, call=state.pending[0])
    return ModelStep(step=state.step)


def after_model(state: TurnState, reply: ModelReply) -> TurnState:
    """Fold a model step in: its tool calls become pending, or its content is the answer."""
    update: dict[str, Any] = {
        "step": state.step + 1,
        "tokens_in": state.tokens_in + reply.tokens_in,
        "tokens_out": state.tokens_out + reply.tokens_out,
    }
    if reply.tool_calls:
        update["pending"] = reply.tool_calls
    else:
        update["outcome"] = "answered"
        update["answer"] = (reply.content or "")[:MAX_ANSWER]
    return state.model_copy(update=update)


def after_tool(state: TurnState, result: ToolResult) -> TurnState:
    """Fold a tool step in (allowed or refused): the next pending call, or the model again."""
    return state.model_copy(
        update={
            "step": state.step + 1,
            "pending": state.pending[1:],
            "tool_calls": state.tool_calls + 1,
            "refusals": state.refusals + int(result.refused),
        }
    )


def finish(state: TurnState, outcome: Outcome, answer: str) -> TurnState:
    """End the turn with ``outcome`` (a limit, no funds) and a line saying so."""
    return state.model_copy(update={"outcome": outcome, "answer": answer[:MAX_ANSWER]})


def build_messages(system: str, request: str, steps: list[StepRecord]) -> list[dict[str, Any]]:
    """The chat-completions conversation of a turn from its recorded steps, in order."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": request},
    ]
    for record in sorted(steps, key=lambda r: r.step):
        if record.model is not None:
            message: dict[str, Any] = {"role": "assistant", "content": record.model.content}
            if record.model.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {"name": wire_name(c.tool), "arguments": c.arguments},
                    }
                    for c in record.model.tool_calls
                ]
            messages.append(message)
        elif record.tool is not None:
            content = record.tool.output if record.tool.ok else f"error: {record.tool.output}"
            messages.append(
                {"role": "tool", "tool_call_id": record.tool.call_id, "content": content}
            )
    return messages
