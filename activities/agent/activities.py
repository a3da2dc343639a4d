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
from activities.agent.memory_store import MemoryStore
from activities.agent.runner import run_tool
from activities.agent.sandbox import AgentSandboxes
from activities.agent.store import AgentStore, ToolAuditRecord
from activities.app.activities import _heartbeating as heartbeating
from activities.app.images import ImageBuilder
from activities.contracts import ThinkResult
from activities.funding.db import Database
from activities.funding.draws import HoldDraws, HoldExhausted, ToolDraw
from activities.persona_audit import PersonaAudit
from activities.providers import ChatProvider, ModelProvider
from activities.store import Store, UnknownContent
from personas.agent.memory import Exchange, memory_about, memory_prompt
from personas.agent.resources import Scope
from personas.agent.tools import MAX_CALL_BYTES, CheckedCall, Refusal, check_call
from personas.agent.turn import ModelReply, StepRecord, ToolResult, build_messages
from personas.funding.pricing import PriceTable
from personas.items import InboxItem, item_kind
from personas.parts import prompt_text

IMAGE_CACHE = Path("/var/tmp/persona-app-cache")
StepHook = Callable[[str, str, int], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class AgentActivities(ActivitySet):
    """Agent turn activities over a store, a model provider and the agent sandboxes;
    ``prices`` price the bytes of metered tool calls (give the funding worker's table)."""

    def __init__(
        self,
        store: Store,
        provider: ModelProvider,
        sandboxes: AgentSandboxes | None = None,
        *,
        deployment: str | None = None,
        before_step: StepHook | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self.store = store
        self.agents = AgentStore(store.engine)
        self.memories = MemoryStore(store.engine)
        self.draws = HoldDraws(Database(store.engine), prices or PriceTable())
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

    def _request_text(self, item: InboxItem) -> str:
        about = f"{item.kind} from {item.sender_id}"
        if item.content_ref is None:
            return about
        try:
            content = self.store.get_content(item.content_ref)
        except UnknownContent:
            return f"{about} (content {item.content_ref} missing)"
        return prompt_text(item_kind(item.kind).render(item, content.parts)) or about

    def _remembered(self, persona_id: str, item: InboxItem) -> str:
        """What the persona remembers of the item's room and sender, for the prompt."""
        about = memory_about(item.room_id, item.sender_id)
        texts = (memory_prompt(a, self.memories.get(persona_id, a)) for a in about)
        return "\n\n".join(t for t in texts if t)

    def _remember(self, req: FinishRequest) -> None:
        """Fold the turn's question and answer into the memories of its room and sender."""
        exchange = Exchange.of(req.item.item_id, self._request_text(req.item), req.answer)
        for about in memory_about(req.item.room_id, req.item.sender_id):
            self.memories.remember(req.persona_id, about, exchange)

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
        """One model call of the turn, on the conversation rebuilt from its recorded steps
        (heartbeating while it runs, so a dead worker's step is retried in seconds)."""
        await self._hook("model", req.item_id, req.step)
        return await heartbeating("model", asyncio.ensure_future(self._model_step(req)))

    async def _model_step(self, req: ModelStepRequest) -> ModelStepResult:
        done = await asyncio.to_thread(self.agents.get_step, req.persona_id, req.item_id, req.step)
        if done is not None:
            return ModelStepResult.model_validate(done).model_copy(update={"compute_ms": 0})
        request = await asyncio.to_thread(self._request_text, req.item)
        records = await asyncio.to_thread(self._records, req.persona_id, req.item_id)
        remembered = await asyncio.to_thread(self._remembered, req.persona_id, req.item)
        system = f"{req.system}\n\n{remembered}" if remembered else req.system
        messages = build_messages(system, request, records)
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
            call, reason = req.checked.call, "ok" if first.ok else f"error: {result.output}"
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
                result_ref=first.result_ref,
                cpu_ms=first.cpu_ms,
                bytes_read=first.bytes_read,
                bytes_written=first.bytes_written,
            )
        )
        return first

    @activity.defn(name=AGENT_TOOL)
    async def tool_step(self, req: ToolStepRequest) -> ToolOutcome:
        """Run one allowed tool call in the persona's warm sandbox, once; metered and audited
        (heartbeating while it runs: warming a sandbox may build its image)."""
        await self._hook("tool", req.item_id, req.step)
        return await heartbeating("tool", asyncio.ensure_future(self._tool_step(req)))

    async def _tool_step(self, req: ToolStepRequest) -> ToolOutcome:
        done = await asyncio.to_thread(self.agents.get_step, req.persona_id, req.item_id, req.step)
        if done is not None:
            return await asyncio.to_thread(
                self._record_tool,
                req,
                ToolResult.model_validate(done["result"]),
                ToolOutcome.model_validate(done["outcome"]),
            )
        # the scope now, not the turn's: a grant revoked (or a delegation cut upstream) since
        # the turn began is refused here, and the sandbox no longer mounts it
        scope, session = await asyncio.to_thread(self._warm, req.persona_id)
        checked = check_call(scope, req.checked.call)
        if isinstance(checked, Refusal):
            return await self._refusal(self._refused(req, checked))
        drawn = await asyncio.to_thread(self._draw, req)
        if isinstance(drawn, Refusal):
            return await self._refusal(self._refused(req, drawn))
        ran = await asyncio.to_thread(self._run, session, scope, checked)
        if drawn is not None:
            used = ran.bytes_read + ran.bytes_written
            await asyncio.to_thread(self.draws.adjust, drawn[0], drawn[1], used)
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

    def _warm(self, persona_id: str) -> tuple[Scope, str]:
        """The persona's scope now, and its warm sandbox mounting exactly that."""
        scope = self.agents.scope(persona_id)
        return scope, self.sandboxes.warm(persona_id, list(scope.resources))

    @staticmethod
    def _refused(req: ToolStepRequest, refusal: Refusal) -> RefusalRequest:
        return RefusalRequest(
            persona_id=req.persona_id, item_id=req.item_id, step=req.step, refusal=refusal
        )

    def _draw(self, req: ToolStepRequest) -> tuple[ToolDraw, int] | Refusal | None:
        """A metered call draws the price of the most bytes it may move from its turn's
        hold (nothing for an unmetered turn); a hold with too little left refuses it."""
        if req.hold_id is None:
            return None
        call = req.checked.call
        draw = ToolDraw(
            hold_id=req.hold_id,
            step=req.step,
            persona_id=req.persona_id,
            entity_id=req.entity_id,
            tool=call.tool,
        )
        try:
            return draw, self.draws.draw(draw, MAX_CALL_BYTES)
        except HoldExhausted as err:
            return Refusal(call=call, resource=req.checked.resource, reason=str(err)[:300])

    def _run(self, session: str, scope: Scope, checked: CheckedCall) -> Any:
        held = scope.find(checked.resource)
        assert held is not None  # check_call found it
        return run_tool(self.sandboxes, session, checked, held)

    @activity.defn(name=AGENT_REFUSE)
    async def refuse_step(self, req: RefusalRequest) -> ToolOutcome:
        """Record and audit a call the scope refused (nothing is run)."""
        return await self._refusal(req)

    async def _refusal(self, req: RefusalRequest) -> ToolOutcome:
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
        await asyncio.to_thread(self._remember, req)  # once per item (see ``remember``)
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
