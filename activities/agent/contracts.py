"""Names and payloads of the agent turn's activities (one per model call, one per tool call).

Every step payload carries persona, item and step: the key its result is recorded under, so
a retried or resumed step returns what its first attempt did instead of doing it again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from personas.agent.tools import CheckedCall, Refusal
from personas.agent.turn import MAX_ANSWER, MAX_STEPS, ModelReply, Outcome
from personas.hosts import HostClaim
from personas.items import InboxItem

AGENT_TURN_WORKFLOW = "AgentTurn"
AGENT_SCOPE = "agent.scope"
AGENT_MODEL = "agent.model"
AGENT_TOOL = "agent.tool"
AGENT_REFUSE = "agent.refuse"
AGENT_FINISH = "agent.finish"
AGENT_RELEASE = "agent.release"

MAX_TOOLS = 16


class StepKey(BaseModel):
    """Whose step this is: persona, item and step number."""

    model_config = ConfigDict(frozen=True)

    persona_id: str = Field(min_length=1, max_length=255)
    item_id: str = Field(min_length=1, max_length=255)
    step: int = Field(ge=0, le=MAX_STEPS)


class ModelStepRequest(StepKey):
    """Call the model once: the conversation is rebuilt from the turn's recorded steps."""

    model: str = Field(max_length=255)
    system: str = Field(max_length=2000)
    item: InboxItem
    tools: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_TOOLS)


class ModelStepResult(BaseModel):
    """The model's reply and the call's wall time (0 when the step was already recorded)."""

    reply: ModelReply
    compute_ms: int = Field(default=0, ge=0)


class ToolStepRequest(StepKey):
    """Run a call the turn's scope allowed; the activity checks it again against the scope
    at that moment (a revocation since the turn began is refused there). A metered turn
    names its budget hold: the call draws the price of its bytes from it first."""

    checked: CheckedCall
    hold_id: str | None = Field(default=None, max_length=200)
    entity_id: str = Field(default="", max_length=255)


class RefusalRequest(StepKey):
    """Record a call the scope refused: the model reads it as the tool's error."""

    refusal: Refusal


class ToolOutcome(BaseModel):
    """What the workflow keeps of a tool step: a reference to its output and its meters."""

    call_id: str = Field(max_length=128)
    tool: str = Field(max_length=64)
    resource: str = Field(max_length=64)
    ok: bool
    refused: bool = False
    result_ref: str | None = Field(default=None, max_length=300)
    output_chars: int = Field(default=0, ge=0)
    elapsed_ms: float = Field(default=0.0, ge=0)
    cpu_ms: int = Field(default=0, ge=0)
    bytes_read: int = Field(default=0, ge=0)
    bytes_written: int = Field(default=0, ge=0)


class FinishRequest(BaseModel):
    """Store the turn's answer as the item's output, once."""

    persona_id: str = Field(min_length=1, max_length=255)
    item: InboxItem
    purpose: str = Field(pattern=r"^(respond|bid)$")
    outcome: Outcome
    answer: str = Field(max_length=MAX_ANSWER)
    steps: int = Field(ge=0)
    tool_calls: int = Field(ge=0)
    refusals: int = Field(ge=0)
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)
    compute_ms: int = Field(ge=0)


class TurnInput(BaseModel):
    """An agent turn on one item (the child workflow's input)."""

    persona_id: str = Field(min_length=1, max_length=255)
    persona_name: str = Field(max_length=255)
    base_persona: str = Field(max_length=255)
    specialization: str = Field(max_length=500)
    entity_id: str = Field(max_length=255)
    item: InboxItem
    purpose: str = Field(default="respond", pattern=r"^(respond|bid)$")
    max_steps: int = Field(ge=1, le=MAX_STEPS)
    max_tokens_in: int = Field(ge=1)
    max_tokens_out: int = Field(ge=1)
    host: HostClaim
    hold_id: str | None = Field(default=None, max_length=200)


class ReleaseRequest(BaseModel):
    """Release the persona's warm sandbox (idempotent)."""

    persona_id: str = Field(min_length=1, max_length=255)
