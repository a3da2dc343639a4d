"""The agent turn's activities: the scope, one model call, one tool call, a refusal, the answer,
and the release of the persona's warm sandbox.

Each step activity first looks for its recorded result (keyed by persona, item and step) and
returns it when found; otherwise it does the work and records the result with an idempotent
insert, reading back whatever was recorded first. A worker killed mid-turn therefore resumes
at the step it was in, and a step recorded before the kill is never done again.
``executions`` counts the steps this process actually did (tests and the benchmark check
that each ran once); ``before_step`` is a hook the kill test waits on.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import activity

from activities.activity_set import ActivitySet
from activities.agent.contracts import (
    AGENT_FINISH,
    AGENT_MODEL,
    AGENT_REFUSE,
    AGENT_RELEASE,
    AGENT_SCOPE,
    AGENT_TOOL,
    FinishRequest,
    ModelStepRequest,
    ModelStepResult,
    RefusalRequest,
    ReleaseRequest,
    ToolOutcome,
    ToolStepRequest,
)
from activities.agent.runner import run_tool
from activities.agent.sandbox import AgentSandboxes
from activities.agent.store import AgentStore, ToolAuditRecord
from activities.app.images import ImageBuilder
from activities.contracts import ThinkResult
from activities.persona_audit import PersonaAudit
from activities.providers import ChatProvider, ModelProvider
from activities.store import Store, UnknownContent
from personas.agent.resources import Scope
from personas.agent.turn import ModelReply, StepRecord, ToolResult, build_messages
from personas.items import item_kind
from personas.parts import prompt_text

IMAGE_CACHE = Path("/var/tmp/persona-app-cache")
StepHook = Callable[[str, str, int], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class AgentActivities(ActivitySet):
    """Agent turn activities over a store, a model provider and the agent sandboxes."""

    def __init__(
        self,
        store: Store,
        provider: ModelProvider,
        sandboxes: AgentSandboxes | None = None,
        *,
        deployment: str | None = None,
        before_step: StepHook | None = None,
    ) -> None:
        self.store = store
        self.agents = AgentStore(store.engine)
        self.provider = provider
        self.sandboxes = sandboxes or AgentSandboxes(ImageBuilder(IMAGE_CACHE))
        if deployment is not None:
            self.sandboxes.deployment = deployment
        self.audit = PersonaAudit(store)
        self.before_step = before_step
        self.executions: Counter[tuple[str, str, int]] = Counter()

    async def _hook(self, kind: str, item_id: str, step: int) -> None:
        if self.before_step is not None:
            await self.before_step(kind, item_id, step)

    @activity.defn(name=AGENT_SCOPE)
    async def scope(self, persona_id: str) -> Scope:
        """The persona's current scope (its grants, each with its resource)."""
        return await asyncio.to_thread(self.agents.scope, persona_id)

    def _request_text(self, req: ModelStepRequest) -> str:
        item = req.item
        about = f"{item.kind} from {item.sender_id}"
        if item.content_ref is None:
            return about
        try:
            content = self.store.get_content(item.content_ref)
        except UnknownContent:
            return f"{about} (content {item.content_ref} missing)"
        return prompt_text(item_kind(item.kind).render(item, content.parts)) or about

    def _records(self, persona_id: str, item_id: str) -> list[StepRecord]:
        records = []
        for step, kind, result in self.agents.list_steps(persona_id, item_id):
            if kind == "model":
                reply = ModelStepResult.model_validate(result).reply
                records.append(StepRecord(step=step, kind="model", model=reply))
            else:
                tool = ToolResult.model_validate(result["result"])
                records.append(StepRecord(step=step, kind="tool", tool=tool))
        return records

    @activity.defn(name=AGENT_MODEL)
    async def model_step(self, req: ModelStepRequest) -> ModelStepResult:
        """One model call of the turn, on the conversation rebuilt from its recorded steps."""
        await self._hook("model", req.item_id, req.step)
        done = await asyncio.to_thread(self.agents.get_step, req.persona_id, req.item_id, req.step)
        if done is not None:
            return ModelStepResult.model_validate(done).model_copy(update={"compute_ms": 0})
        request = await asyncio.to_thread(self._request_text, req)
        records = await asyncio.to_thread(self._records, req.persona_id, req.item_id)
        messages = build_messages(req.system, request, records)
        started = time.monotonic()
        if isinstance(self.provider, ChatProvider):
            reply = await self.provider.chat(req.model, messages, req.tools)
        else:  # a provider without tool calling answers the request alone
            completion = await self.provider.complete(req.model, req.system, request)
            reply = ModelReply(
                content=completion.text[:4000],
                tokens_in=completion.tokens_in,
                tokens_out=completion.tokens_out,
            )
        result = ModelStepResult(
            reply=reply, compute_ms=math.ceil((time.monotonic() - started) * 1000)
        )
        recorded = await asyncio.to_thread(
            self.agents.record_step,
            req.persona_id,
            req.item_id,
            req.step,
            "model",
            result.model_dump(mode="json"),
        )
        self.executions[(req.persona_id, req.item_id, req.step)] += 1
        return ModelStepResult.model_validate(recorded)

    def _record_tool(
        self, req: ToolStepRequest | RefusalRequest, result: ToolResult, outcome: ToolOutcome
    ) -> ToolOutcome:
        """Record the step and its audit row once; the outcome recorded first."""
        stored = self.agents.record_step(
            req.persona_id,
            req.item_id,
            req.step,
            "tool",
            {"result": result.model_dump(mode="json"), "outcome": outcome.model_dump(mode="json")},
        )
        first = ToolOutcome.model_validate(stored["outcome"])
        if isinstance(req, RefusalRequest):
            call, reason = req.refusal.call, f"refused: {req.refusal.reason}"
        else:
            call = req.checked.call
            reason = (
                f"{'ok' if first.ok else 'error'}; result {first.result_ref}; "
                f"{first.cpu_ms} ms cpu; {first.bytes_read} bytes read; "
                f"{first.bytes_written} bytes written"
            )
        self.agents.audit_tool(
            ToolAuditRecord(
                persona_id=req.persona_id,
                item_id=req.item_id,
                step=req.step,
                tool=call.tool,
                resource=first.resource,
                args_digest=call.digest(),
                allowed=not first.refused,
                reason=reason[:1000],
                at=_now(),
            )
        )
        return first

    @activity.defn(name=AGENT_TOOL)
    async def tool_step(self, req: ToolStepRequest) -> ToolOutcome:
        """Run one allowed tool call in the persona's warm sandbox, once; metered and audited."""
        await self._hook("tool", req.item_id, req.step)
        done = await asyncio.to_thread(self.agents.get_step, req.persona_id, req.item_id, req.step)
        if done is not None:
            return await asyncio.to_thread(
                self._record_tool,
                req,
                ToolResult.model_validate(done["result"]),
                ToolOutcome.model_validate(done["outcome"]),
            )
        ran = await asyncio.to_thread(self._run, req)
        call = req.checked.call
        turn = hashlib.sha256(f"{req.persona_id}\n{req.item_id}".encode()).hexdigest()[:32]
        ref = f"tool-{turn}-{req.step}"
        await asyncio.to_thread(self.store.put_content, "tool", ran.output, None, ref)
        result = ToolResult(
            call_id=call.call_id,
            tool=call.tool,
            ok=ran.ok,
            output=ran.output,
            elapsed_ms=ran.elapsed_ms,
        )
        outcome = ToolOutcome(
            call_id=call.call_id,
            tool=call.tool,
            resource=req.checked.resource,
            ok=ran.ok,
            result_ref=ref,
            output_chars=len(ran.output),
            elapsed_ms=ran.elapsed_ms,
            cpu_ms=ran.cpu_ms,
            bytes_read=ran.bytes_read,
            bytes_written=ran.bytes_written,
        )
        first = await asyncio.to_thread(self._record_tool, req, result, outcome)
        self.executions[(req.persona_id, req.item_id, req.step)] += 1
        return first

    def _run(self, req: ToolStepRequest) -> Any:
        session = self.sandboxes.warm(req.persona_id, list(req.scope.resources))
        return run_tool(self.sandboxes, session, req.checked, req.held)

    @activity.defn(name=AGENT_REFUSE)
    async def refuse_step(self, req: RefusalRequest) -> ToolOutcome:
        """Record and audit a call the scope refused (nothing is run)."""
        call = req.refusal.call
        result = ToolResult(
            call_id=call.call_id,
            tool=call.tool[:64],
            ok=False,
            refused=True,
            output=f"refused: {req.refusal.reason}",
        )
        outcome = ToolOutcome(
            call_id=call.call_id,
            tool=call.tool[:64],
            resource=req.refusal.resource[:64],
            ok=False,
            refused=True,
        )
        return await asyncio.to_thread(self._record_tool, req, result, outcome)

    @activity.defn(name=AGENT_FINISH)
    async def finish(self, req: FinishRequest) -> ThinkResult:
        """Store the turn's answer as the item's output and record its outcome, once."""
        persona, item_id = req.persona_id, req.item.item_id
        done = await asyncio.to_thread(self.store.get_outcome, persona, item_id)
        if done is None or done.output_ref is None:
            trace = req.model_dump(mode="json", exclude={"item", "answer", "persona_id"})
            output_ref = await asyncio.to_thread(
                self.store.put_content, "output", req.answer, trace, f"out-{persona}-{item_id}"
            )
            done = await asyncio.to_thread(
                self.store.record_outcome,
                persona,
                item_id,
                req.purpose,
                output_ref,
                req.tokens_in,
                req.tokens_out,
            )
        result = ThinkResult(
            output_ref=done.output_ref or f"out-{persona}-{item_id}",
            tokens_in=done.tokens_in,
            tokens_out=done.tokens_out,
            compute_ms=req.compute_ms,
        )
        await self.audit.record(
            persona,
            f"persona.{req.purpose}",
            item_id,
            {
                "item_id": item_id,
                "item_kind": req.item.kind,
                "sender_id": req.item.sender_id,
                "output_ref": result.output_ref,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "outcome": req.outcome,
                "steps": req.steps,
                "tool_calls": req.tool_calls,
                "refusals": req.refusals,
            },
        )
        return result

    @activity.defn(name=AGENT_RELEASE)
    async def release(self, req: ReleaseRequest) -> bool:
        """Remove the persona's warm sandbox (idempotent)."""
        return await asyncio.to_thread(self.sandboxes.release, req.persona_id)
