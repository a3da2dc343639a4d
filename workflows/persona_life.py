"""The life of one AI persona: a durable, RTOS-like loop over a priority inbox.

The loop takes the highest-priority item, decides whether to engage, works on it through an
activity, then waits for its cadence. An urgent item (priority > 0.8) cuts the wait short. With
nothing to do the persona waits on a condition with a long timeout, costing no workflow tasks
until something arrives. Handlers only change state; the loop and its courier do every side
effect.

Chores (writing shed items to the overflow record, sending the signals the persona owes
rooms and other personas) are the courier's: a task of the workflow that runs beside the
loop for the whole run, so that no amount of shedding ever puts an urgent item behind them.
Each round it sends what is owed first and then writes one batch of sheds, so a flood that
sheds continuously delays neither. Before a continue-as-new or the end, the loop waits for
the courier to finish what is owed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.agent.contracts import (
        AGENT_RELEASE,
        AGENT_TURN_WORKFLOW,
        TurnInput,
    )
    from activities.agent.contracts import (
        ReleaseRequest as AgentRelease,
    )
    from activities.contracts import (
        POST_TO_ROOM,
        RECORD_SHED,
        SIGNAL_PERSONA,
        THINK,
        DeliveryReport,
        PersonaSignal,
        RoomPostRequest,
        ShedBatch,
        ThinkRequest,
        ThinkResult,
    )
    from activities.funding.contracts import (
        FUNDING_AD_IMPRESSION,
        FUNDING_RELEASE,
        FUNDING_RESERVE,
        FUNDING_SETTLE,
        HoldResult,
        ImpressionRequest,
        ImpressionResult,
        ReleaseRequest,
        ReserveRequest,
        SettleRequest,
    )
    from activities.persona_start import PERSONA_LIFE_WORKFLOW
    from personas import messages
    from personas.agent.tools import MAX_CALL_BYTES
    from personas.agent.turn import agent_turn_workflow_id
    from personas.bounds import ID_CHARS, LABEL_CHARS, quote
    from personas.cadence import engages, is_urgent, next_item_at_ms, pacing_wait_s
    from personas.coordination import Bid, BidBatch
    from personas.coordination_floor import DELIVERY_BATCH
    from personas.errors import first_error
    from personas.ids import room_workflow_id
    from personas.inbox import Inbox, Shed
    from personas.items import Dependency, InboxEntry, InboxItem
    from personas.life import (
        DeliveryReceipt,
        DependencyDone,
        FloorGrant,
        InboxView,
        LifeSnapshot,
        LifeStats,
        OutgoingSignal,
        PersonaLifeInput,
        PersonaView,
        ShedNotice,
        Subscription,
        coalesced,
        shed_batch,
    )
    from personas.priority import PriorityContext, base_priority_bp, effective_bp
    from personas.state import Mood, PersonaState, after_work, rested, with_mood
    from personas.task_priority import task_priority_key
    from runtime import search_attributes as sa
    from runtime.converter import UndecodablePayload
    from workflows.common import (
        WrongArity,
        claim_host,
        is_number,
        now_ms,
        pinned,
        refuse,
        sole,
        started_with,
    )

THINK_TIMEOUT = timedelta(minutes=2)
STORE_TIMEOUT = timedelta(seconds=30)
AD_RETRY = RetryPolicy(maximum_attempts=3)
THINK_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))


# A start input that does not decode fails the workflow (cleanly, once) rather than its
# first workflow task over and over.
@workflow.defn(name=PERSONA_LIFE_WORKFLOW, failure_exception_types=[UndecodablePayload])
class PersonaLife:
    """One AI persona's life. Its id is ``persona-<persona_id>``."""

    @workflow.init
    def __init__(self, input: PersonaLifeInput) -> None:
        input = started_with(input, PersonaLifeInput)
        self.profile = input.profile
        self.config = input.config
        self.persona_id = str(input.profile.persona_id)
        # Everything the persona lives by, changed in place; continue-as-new carries it whole.
        # A new life (started again after a stop) goes on counting where the last one ended.
        self.life = input.snapshot or LifeSnapshot(
            inbox=Inbox(capacity=self.config.inbox_capacity, weights=self.config.priority),
            state=PersonaState(),
            stats=input.stats or LifeStats(),
        )
        # Sets derived from the life for quick lookups, rebuilt on every run, never carried.
        self.recent_set = set(self.life.recent_ids)
        self.satisfied_set = set(self.life.satisfied)
        self.stop_requested = False
        self.published: tuple[str, str, int] | None = None
        # The courier (see the module docstring): whether it is doing a chore, and whether
        # it was told to end.
        self.courier: asyncio.Task[None] | None = None
        self.couriering = False
        self.courier_retired = False

    # ----------------------------------------------------------------- the loop
    @workflow.run
    async def run(self, input: PersonaLifeInput) -> LifeStats:
        """Live until stopped, continuing as new when the history grows long."""
        if input.snapshot is None:
            self.life.state = self.life.state.model_copy(update={"updated_ms": now_ms()})
        self.courier = asyncio.create_task(self._courier())
        while True:
            if self.stop_requested:
                break
            if self._history_full():
                await self._continue_as_new()
                continue  # reached only when a stop came in meanwhile
            if not self.life.paused and self.life.grants:
                await self._take_floor(self.life.grants.pop(0))
            elif not self.life.paused and len(self.life.inbox):
                if await self._paced():
                    await self._work(self.life.inbox.pop())
                    self._settle_state()
            else:
                await self._rest()
        await self._shed_everything("stopped")
        await self._release_sandbox()
        await self._settle_chores()
        self._settle_state()
        self._publish(status="stopped")
        return self.life.stats

    def _has_work(self) -> bool:
        return not self.life.paused and (bool(self.life.grants) or len(self.life.inbox) > 0)

    def _has_chores(self) -> bool:
        return bool(self.life.outbox or self.life.pending_shed)

    def _chores_idle(self) -> bool:
        return not self._has_chores() and not self.couriering

    def _urgent_waiting(self) -> bool:
        if self.life.paused:
            return False
        return bool(self.life.grants) or is_urgent(self.life.inbox.head_effective_bp(now_ms()))

    async def _rest(self) -> None:
        self._settle_state()
        self._publish()
        try:
            await workflow.wait_condition(
                lambda: self.stop_requested or self._has_work() or self._history_full(),
                timeout=self.config.territory_scan_s,
                timeout_summary="territory-scan",
            )
        except TimeoutError:
            self.life.stats.territory_scans += 1
            await self._release_sandbox()

    async def _paced(self) -> bool:
        """Whether the next item may be taken now. If not, wait for the cadence; urgent work,
        a stop, a pause or a full history end the wait early (then the loop comes back
        here)."""
        remaining = pacing_wait_s(self.life.state, self.config.cadence, now_ms())
        if remaining <= 0 or self._urgent_waiting():
            return True
        self._publish()
        self.life.stats.cadence_waits += 1
        try:
            await workflow.wait_condition(
                lambda: (
                    self.stop_requested
                    or self.life.paused
                    or self._urgent_waiting()
                    or self._history_full()
                ),
                timeout=remaining,
                timeout_summary="cadence",
            )
        except TimeoutError:
            return not self.life.paused and len(self.life.inbox) > 0
        return False

    # ----------------------------------------------------------------- work
    async def _work(self, entry: InboxEntry) -> None:
        now = now_ms()
        priority_bp = effective_bp(entry.base_bp, entry.arrived_ms, now, self.config.priority)
        self.life.state = with_mood(
            rested(self.life.state, now, self.config.state_rules),
            len(self.life.inbox) + 1,
            self.config.state_rules,
        )
        item = entry.item
        if not engages(priority_bp, self.life.state.mood, self.config.engagement):
            self.life.stats.passed += 1
            if item.room_id:
                self._bid(item, entry.base_bp, None)
            return
        metered = self.life.metered
        if metered and not await self._reserve(entry):
            if item.room_id:
                self._bid(item, entry.base_bp, None)
            return
        purpose = "bid" if item.room_id else "respond"
        hold_id = self._hold_id(item) if metered else None
        result = await self._think(item, purpose, priority_bp, hold_id)
        if metered:
            await self._settle(item, result)
        self.life.state = after_work(
            self.life.state, item.room_id, now_ms(), self.config.state_rules, taken_ms=now
        )
        if result is None:
            if item.room_id:
                self._bid(item, entry.base_bp, None)
            return
        self.life.stats.processed += 1
        if metered and item.sender_is_human and not item.room_id:
            await self._show_ad(item)
        if item.room_id:
            self._bid(item, entry.base_bp, result.output_ref)
        if item.task_key:
            self._complete(item.task_key, result.output_ref)

    async def _think(
        self, item: InboxItem, purpose: str, priority_bp: int, hold_id: str | None
    ) -> ThinkResult | None:
        """The item's think (an activity, or an agent turn), its tasks at the task-queue
        priority of the item's effective priority (``personas.task_priority``); a metered
        turn draws on its hold ``hold_id``."""
        workflow.set_current_details(f"{self.profile.name}: working on {item.kind} {item.item_id}")
        priority = Priority(priority_key=task_priority_key(priority_bp))
        try:
            if self.config.agent_max_steps:
                try:
                    return await self._agent_turn(item, purpose, priority, hold_id)
                except FailureError:  # its host may be gone: the next turn is placed anew
                    await self._release_sandbox()
                    raise
            return await workflow.execute_activity(
                THINK,
                ThinkRequest(
                    persona_id=self.persona_id,
                    persona_name=self.profile.name,
                    base_persona=self.profile.base_persona,
                    specialization=self.profile.specialization,
                    item=item,
                    purpose=purpose,
                    inbox_depth=len(self.life.inbox),
                ),
                result_type=ThinkResult,
                start_to_close_timeout=THINK_TIMEOUT,
                retry_policy=THINK_RETRY,
                priority=priority,
            )
        except FailureError as err:
            self.life.stats.failed += 1
            workflow.logger.warning("think failed for %s: %s", item.item_id, err)
            return None

    async def _agent_turn(
        self, item: InboxItem, purpose: str, priority: Priority, hold_id: str | None
    ) -> ThinkResult:
        """The item's agent turn, a child workflow (see ``workflows.agent_turn``) at the
        item's task-queue ``priority`` (its activities inherit it), with the persona's warm
        sandbox on the host it was placed on (placed now if it has none); a metered turn's
        tool calls draw their bytes from its hold ``hold_id``."""
        if self.life.agent_host is None:
            self.life.agent_host = await claim_host()
        host = self.life.agent_host
        return await workflow.execute_child_workflow(
            AGENT_TURN_WORKFLOW,
            TurnInput(
                persona_id=self.persona_id,
                persona_name=self.profile.name,
                base_persona=self.profile.base_persona,
                specialization=self.profile.specialization,
                entity_id=self.profile.entity_id,
                item=item,
                purpose=purpose,
                max_steps=self.config.agent_max_steps,
                max_tokens_in=self.config.max_tokens_in,
                max_tokens_out=self.config.max_tokens_out,
                host=host,
                hold_id=hold_id,
            ),
            id=agent_turn_workflow_id(self.persona_id, item.item_id),
            result_type=ThinkResult,
            priority=priority,
        )

    async def _release_sandbox(self) -> None:
        """An agent persona that stops or idles gives its warm sandbox back (on its host; a
        host that is gone took the sandbox with it, and its reconciler removes what is left)."""
        host, self.life.agent_host = self.life.agent_host, None
        if host is None:
            return
        try:
            await workflow.execute_activity(
                AGENT_RELEASE,
                AgentRelease(persona_id=self.persona_id),
                **pinned(host),
                result_type=bool,
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=AD_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("sandbox release failed: %s", err.cause)

    async def _show_ad(self, item: InboxItem) -> None:
        """A funded persona's answer to a person carries an ad for its specialization and
        the task; the revenue share is credited to the persona (once per item)."""
        try:
            shown: ImpressionResult = await workflow.execute_activity(
                FUNDING_AD_IMPRESSION,
                ImpressionRequest(
                    key=f"answer:{self._hold_id(item)}",
                    persona_id=self.persona_id,
                    user_id=item.sender_id,
                    specialization=self.profile.specialization,
                    task=" ".join(item.topics),
                    content_ref=item.content_ref,
                ),
                result_type=ImpressionResult,
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=AD_RETRY,
            )
        except ActivityError as err:  # an ad never costs the persona its answer
            workflow.logger.warning("ad for %s failed: %s", item.item_id, err.cause)
            return
        if shown.ad_id is not None:
            self.life.stats.ads_shown += 1
            self.life.stats.ad_credit += shown.credited

    def _hold_id(self, item: InboxItem) -> str:
        return f"{self.persona_id}:{item.item_id}"

    async def _reserve(self, entry: InboxEntry) -> bool:
        """Hold the price of the largest call before the work; an item nobody can fund is
        shed to the overflow record with the reason."""
        try:
            await workflow.execute_activity(
                FUNDING_RESERVE,
                ReserveRequest(
                    hold_id=self._hold_id(entry.item),
                    persona_id=self.persona_id,
                    model=self.profile.base_persona,
                    tokens_in=self.config.max_tokens_in,
                    max_tokens_out=self.config.max_tokens_out,
                    max_compute_ms=int(THINK_TIMEOUT.total_seconds() * 1000),
                    max_tool_bytes=self.config.agent_max_steps * MAX_CALL_BYTES,
                ),
                result_type=HoldResult,
                start_to_close_timeout=STORE_TIMEOUT,
            )
        except ActivityError as err:
            refusal = getattr(err.cause, "type", None) or "FundingError"
            self.life.stats.unfunded += 1
            self._record_shed(Shed(entry=entry, reason=f"unfunded: {refusal}"))
            return False
        return True

    async def _settle(self, item: InboxItem, result: ThinkResult | None) -> None:
        """Settle the hold at the metered price, or release it when the work failed."""
        hold_id = self._hold_id(item)
        if result is None:
            await workflow.execute_activity(
                FUNDING_RELEASE,
                ReleaseRequest(hold_id=hold_id),
                result_type=HoldResult,
                start_to_close_timeout=STORE_TIMEOUT,
            )
            return
        await workflow.execute_activity(
            FUNDING_SETTLE,
            SettleRequest(
                hold_id=hold_id,
                persona_id=self.persona_id,
                entity_id=self.profile.entity_id,
                activity="think",
                model=self.profile.base_persona,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                compute_ms=result.compute_ms,
            ),
            result_type=HoldResult,
            start_to_close_timeout=STORE_TIMEOUT,
        )

    def _bid(self, item: InboxItem, relevance_bp: int, thought_ref: str | None) -> None:
        """Answer the room: a bid scored by the item's relevance on arrival, or a pass."""
        assert item.room_id is not None
        if thought_ref is not None:
            self.life.stats.bids += 1
        self.life.outbox.append(
            OutgoingSignal(
                target="room",
                target_id=item.room_id,
                signal=messages.BIDS,
                payload=BidBatch(
                    bids=[
                        Bid(
                            message_id=item.item_id,
                            persona_id=self.persona_id,
                            score_bp=relevance_bp,
                            thought_ref=thought_ref,
                            next_free_ms=next_item_at_ms(self.life.state, self.config.cadence),
                        )
                    ]
                ),
            )
        )

    async def _take_floor(self, grant: FloorGrant) -> None:
        if grant.thought_ref is None:
            return
        workflow.set_current_details(f"{self.profile.name}: responding in {grant.room_id}")
        await workflow.execute_activity(
            POST_TO_ROOM,
            RoomPostRequest(
                room_id=grant.room_id,
                message_id=grant.message_id,
                persona_id=self.persona_id,
                content_ref=grant.thought_ref,
            ),
            start_to_close_timeout=STORE_TIMEOUT,
        )
        self.life.stats.floors_taken += 1

    def _complete(self, task_key: str, output_ref: str) -> None:
        self.life.completed.append(task_key)
        del self.life.completed[: -self.config.remembered_ids]
        for subscriber in self.life.subscribers.pop(task_key, []):
            self._notify(subscriber, task_key, output_ref)

    def _notify(self, subscriber: str, task_key: str, output_ref: str | None) -> None:
        self.life.outbox.append(
            OutgoingSignal(
                target="persona",
                target_id=subscriber,
                signal=messages.DEPENDENCY_DONE,
                payload=DependencyDone(
                    task_key=task_key, provider_id=self.persona_id, output_ref=output_ref
                ),
            )
        )

    # ----------------------------------------------------------------- chores
    async def _courier(self) -> None:
        """Do the chores as they come, beside the loop, until retired."""
        while True:
            await workflow.wait_condition(lambda: self._has_chores() or self.courier_retired)
            if self.courier_retired:
                return
            self.couriering = True
            try:
                await self._chores(one_batch=True)
            finally:
                self.couriering = False

    async def _settle_chores(self) -> None:
        """Wait until the courier has done every chore owed, then end it; whatever is owed
        after that (nothing, unless the courier has ended) is done here."""
        courier = self.courier
        if courier is not None and not courier.done():
            await workflow.wait_condition(lambda: self._chores_idle() or courier.done())
            self.courier_retired = True
            await courier
        await self._chores()

    async def _chores(self, one_batch: bool = False) -> None:
        """Send the signals owed, then write shed items to the overflow record (one batch of
        them with ``one_batch``, so the courier comes back to the signals soon)."""
        while self.life.outbox:
            owed = len(self.life.outbox)  # what is owed now; more may be owed meanwhile
            await asyncio.gather(*map(self._send, coalesced(self.life.outbox[:owed])))
            del self.life.outbox[:owed]
        while self.life.pending_shed:
            batch = shed_batch(self.life.pending_shed)
            await workflow.execute_activity(
                RECORD_SHED,
                ShedBatch(
                    persona_id=self.persona_id,
                    rows=[
                        (n.item.item_id, n.reason, n.priority_bp, n.item.model_dump(mode="json"))
                        for n in batch
                    ],
                ),
                start_to_close_timeout=STORE_TIMEOUT,
            )
            del self.life.pending_shed[: len(batch)]
            if one_batch:
                return

    async def _send(self, message: OutgoingSignal) -> None:
        """Rooms are signalled directly; personas through signal-with-start, so they wake."""
        if message.target == "room":
            try:
                await workflow.get_external_workflow_handle(
                    room_workflow_id(message.target_id)
                ).signal(message.signal, message.payload)
            except FailureError as err:
                workflow.logger.warning(
                    "%s to room %s failed: %s", message.signal, message.target_id, err
                )
            return
        report: DeliveryReport = await workflow.execute_activity(
            SIGNAL_PERSONA,
            PersonaSignal(
                persona_id=message.target_id,
                signal=message.signal,
                payload=message.payload.model_dump(mode="json"),
            ),
            result_type=DeliveryReport,
            start_to_close_timeout=STORE_TIMEOUT,
        )
        for persona_id, reason in report.skipped.items():
            workflow.logger.warning(
                "%s to persona %s skipped: %s", message.signal, persona_id, reason
            )

    def _record_shed(self, shed: Shed | None) -> None:
        if shed is None:
            return
        self.life.stats.shed += 1
        self.life.pending_shed.append(
            ShedNotice(item=shed.entry.item, reason=shed.reason, priority_bp=shed.entry.base_bp)
        )
        if shed.entry.item.room_id:  # the room need not wait for this member's answer
            self._bid(shed.entry.item, shed.entry.base_bp, None)

    async def _shed_everything(self, reason: str) -> None:
        for entry in self.life.inbox.drain():
            self._record_shed(Shed(entry=entry, reason=reason))

    # ----------------------------------------------------------------- continue-as-new
    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.config.max_history_events
        )

    async def _continue_as_new(self) -> None:
        """Carry the life into a new run once no handler is running and the chores are done;
        a stop that arrived meanwhile ends this run instead (the loop sees it)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._settle_chores()
        if self.stop_requested:
            return
        self.life.stats.runs += 1
        workflow.continue_as_new(
            PersonaLifeInput(profile=self.profile, config=self.config, snapshot=self.life)
        )

    # ----------------------------------------------------------------- web UI
    def _settle_state(self) -> None:
        self.life.state = with_mood(
            rested(self.life.state, now_ms(), self.config.state_rules),
            len(self.life.inbox),
            self.config.state_rules,
        )

    def _publish(self, status: str | None = None) -> None:
        status = status or ("paused" if self.life.paused else "live")
        shown = (status, self.life.state.mood.value, len(self.life.inbox))
        if shown == self.published:
            return
        self.published = shown
        workflow.upsert_search_attributes(
            [
                sa.PERSONA_KIND.value_set("ai"),
                sa.PERSONA_ID.value_set(self.persona_id),
                sa.PERSONA_NAME.value_set(self.profile.name),
                sa.ENTITY_ID.value_set(self.profile.entity_id),
                sa.PERSONA_MOOD.value_set(self.life.state.mood.value),
                sa.PERSONA_STATUS.value_set(status),
                sa.INBOX_SIZE.value_set(len(self.life.inbox)),
            ]
        )
        workflow.set_current_details(
            f"{self.profile.name} ({self.profile.specialization}): {status}, "
            f"{self.life.state.mood.value}, energy {self.life.state.energy:.2f}, "
            f"{len(self.life.inbox)} waiting, {self.life.stats.processed} processed, "
            f"{self.life.stats.shed} shed"
        )

    # ----------------------------------------------------------------- messages in
    def _accept(self, item: InboxItem) -> DeliveryReceipt:
        if item.item_id in self.recent_set or self.life.inbox.contains(item.item_id):
            self.life.stats.duplicates += 1
            return DeliveryReceipt(
                item_id=item.item_id, accepted=False, priority=0.0, reason="duplicate"
            )
        self.life.recent_ids.append(item.item_id)
        self.recent_set.add(item.item_id)
        if len(self.life.recent_ids) > self.config.remembered_ids:
            self.recent_set.discard(self.life.recent_ids.pop(0))
        self.life.stats.delivered += 1
        now = now_ms()
        ctx = PriorityContext(
            persona_name=self.profile.name,
            persona_id=self.persona_id,
            expertise=self.profile.expertise_keywords,
            active_room=self.life.state.last_room,
            now_ms=now,
        )
        entry = self.life.inbox.new_entry(
            item, base_priority_bp(item, ctx, self.config.priority), now
        )
        receipt = DeliveryReceipt(
            item_id=item.item_id, accepted=True, priority=entry.base_bp / 10_000
        )
        unmet = [d for d in item.waits_for if d not in self.satisfied_set]
        if unmet:
            for dependency in unmet:
                self.life.outbox.append(
                    OutgoingSignal(
                        target="persona",
                        target_id=dependency.persona_id,
                        signal=messages.SUBSCRIBE,
                        payload=Subscription(
                            task_key=dependency.task_key, subscriber_id=self.persona_id
                        ),
                    )
                )
            shed = self.life.inbox.hold(entry)
            receipt.held = True
        else:
            shed = self.life.inbox.push(entry)
        for out in [shed, *self.life.inbox.trim()]:  # the count bound, then the byte bound
            self._record_shed(out)
            if out is not None:
                receipt.shed_item_id = out.entry.item.item_id
                receipt.accepted = receipt.accepted and out.entry.item.item_id != item.item_id
        return receipt

    def _reject(self, signal: str, reason: str) -> None:
        """Count and record a refused message, in one bounded line (never the payload)."""
        self.life.stats.rejected += 1
        self.life.stats.last_rejection = f"{signal}: {reason}"[:LABEL_CHARS]
        workflow.logger.warning("rejected %s: %s", signal, self.life.stats.last_rejection)

    def _parse(self, signal: str, model: Any, args: tuple[Any, ...]) -> Any:
        """The signal's one payload as ``model``, or None (counted) when it is not one."""
        try:
            return model.model_validate(sole(args))
        except ValidationError as err:
            self._reject(signal, first_error(err, "payload"))
        except (WrongArity, RecursionError) as err:
            self._reject(signal, str(err) or "too deeply nested")
        return None

    @workflow.signal(name=messages.DELIVER)
    def deliver(self, *args: Any) -> None:
        """Deliver an :class:`InboxItem`. Malformed payloads are counted and dropped."""
        item = self._parse(messages.DELIVER, InboxItem, args)
        if item is not None:
            self._accept(item)

    @workflow.signal(name=messages.DELIVER_BATCH)
    def deliver_batch(self, *args: Any) -> None:
        """Deliver several items at once (a room's fan-out), each as :meth:`deliver` does.
        A batch that is not a bounded list is counted and dropped; a malformed item in it
        is counted and dropped alone."""
        try:
            batch = DELIVERY_BATCH.validate_python(sole(args))
        except ValidationError as err:
            self._reject(messages.DELIVER_BATCH, first_error(err, "payload"))
            return
        except (WrongArity, RecursionError) as err:
            self._reject(messages.DELIVER_BATCH, str(err) or "too deeply nested")
            return
        for one in batch:
            self.deliver(one)

    # ----------------------------------------------------------------- updates, once
    def _repeated(self) -> Any:
        """The outcome of the current update when its id was applied before (a caller's
        retry across a continue-as-new, see ``runtime.updates``), else None."""
        info = workflow.current_update_info()
        return None if info is None else self.life.updates.get(info.id)

    def _applied(self, outcome: Any) -> None:
        """Remember the current update's outcome by its id (the latest few)."""
        info = workflow.current_update_info()
        if info is None:
            return
        self.life.updates[info.id] = outcome
        while len(self.life.updates) > self.config.remembered_updates:
            del self.life.updates[next(iter(self.life.updates))]

    @workflow.update
    def post(self, item: InboxItem) -> DeliveryReceipt:
        """Deliver an item and say what became of it (once per update id)."""
        repeated = self._repeated()
        if repeated is not None:
            return DeliveryReceipt.model_validate(repeated)
        receipt = self._accept(item)
        self._applied(receipt.model_dump(mode="json"))
        return receipt

    @post.validator
    def _validate_post(self, item: InboxItem) -> None:
        if not isinstance(item, InboxItem):  # a null or binary payload decodes as itself
            refuse("an item", item, "an InboxItem object")
        if self.stop_requested:
            raise ApplicationError("persona is stopping", type="PersonaStopped")

    @workflow.signal(name=messages.SUBSCRIBE)
    def subscribe(self, *args: Any) -> None:
        """Another persona waits for one of this persona's tasks."""
        subscription = self._parse(messages.SUBSCRIBE, Subscription, args)
        if subscription is None:
            return
        if subscription.task_key in self.life.completed:
            self._notify(subscription.subscriber_id, subscription.task_key, None)
            return
        if not self.life.subscribe(subscription):
            self._reject(messages.SUBSCRIBE, "too many subscriptions waiting")

    @workflow.signal(name=messages.DEPENDENCY_DONE)
    def dependency_done(self, *args: Any) -> None:
        """A dependency finished: release the items that waited only for it."""
        done = self._parse(messages.DEPENDENCY_DONE, DependencyDone, args)
        if done is None:
            return
        dependency = Dependency(persona_id=done.provider_id, task_key=done.task_key)
        self.life.satisfy(dependency, self.satisfied_set, self.config.remembered_ids)
        for shed in self.life.inbox.release_ready(self.satisfied_set):
            self._record_shed(shed)

    @workflow.signal(name=messages.FLOOR_GRANTED)
    def floor_granted(self, *args: Any) -> None:
        """The room coordinator granted this persona the floor for a message."""
        grant = self._parse(messages.FLOOR_GRANTED, FloorGrant, args)
        if grant is not None and not self.life.grant(grant):
            self._reject(messages.FLOOR_GRANTED, "too many grants waiting")

    @workflow.update(name=messages.FIRE_TRIGGER)
    def fire_trigger(self, event: str) -> str:
        """An activation or deactivation event: resumes or pauses the loop."""
        repeated = self._repeated()
        if repeated is not None:
            return str(repeated)
        self.life.paused = event in self.profile.deactivation_triggers
        self._publish()
        status = "paused" if self.life.paused else "live"
        self._applied(status)
        return status

    @fire_trigger.validator
    def _validate_trigger(self, event: str) -> None:
        if not isinstance(event, str) or len(event) > ID_CHARS:
            refuse("a trigger", event, "an event name")
        known = {*self.profile.activation_triggers, *self.profile.deactivation_triggers}
        if event not in known:
            raise ApplicationError(
                f"unknown trigger {quote(event)}; this persona knows "
                f"{', '.join(sorted(known)) or 'none'}"[:LABEL_CHARS],
                type="UnknownTrigger",
            )

    @workflow.update(name=messages.SET_COMPUTE_BUDGET)
    def set_compute_budget(self, fraction: float) -> float:
        """Set the remaining compute budget (a fraction); a low budget slows the cadence."""
        repeated = self._repeated()
        if repeated is not None:
            return float(repeated)
        self.life.state = self.life.state.model_copy(update={"compute_budget": fraction})
        self._applied(fraction)
        return fraction

    @set_compute_budget.validator
    def _validate_budget(self, fraction: float) -> None:
        if not is_number(fraction):
            refuse("a compute budget", fraction, "a number in [0, 1]")
        if not 0.0 <= fraction <= 1.0:
            raise ApplicationError(f"compute budget {quote(fraction)} is outside [0, 1]")

    @workflow.update(name=messages.SET_METERING)
    def set_metering(self, on: Any) -> bool:
        """Hold and settle the price of every model call (the funding cycle turns this on).
        Typed ``Any`` so that the validator sees the value as sent (a ``bool`` hint would
        turn ``0`` into false)."""
        repeated = self._repeated()
        if repeated is not None:
            return bool(repeated)
        self.life.metered = on
        self._applied(on)
        return on

    @set_metering.validator
    def _validate_metering(self, on: Any) -> None:
        if not isinstance(on, bool):
            refuse("metering", on, "true or false")

    @workflow.signal(name=messages.STOP)
    def stop(self, *_ignored: Any) -> None:
        """Stop the life: waiting items go to the overflow record with reason ``stopped``; the
        workflow's result is its final counters. Any payload is ignored."""
        self.stop_requested = True

    # ----------------------------------------------------------------- queries
    @workflow.query
    def view(self) -> PersonaView:
        """The persona's state, mood and counters."""
        state = with_mood(
            rested(self.life.state, now_ms(), self.config.state_rules),
            len(self.life.inbox),
            self.config.state_rules,
        )
        return PersonaView(
            persona_id=self.persona_id,
            name=self.profile.name,
            mood=state.mood if not self.life.paused else Mood.IDLE,
            energy=state.energy,
            attention=state.attention,
            compute_budget=state.compute_budget,
            paused=self.life.paused,
            metered=self.life.metered,
            inbox_size=len(self.life.inbox),
            held=len(self.life.inbox.held),
            stats=self.life.stats,
        )

    @workflow.query
    def inbox_top(self, n: int = 10) -> list[InboxView]:
        """The next ``n`` items in processing order."""
        now = now_ms()
        return [
            InboxView(
                item_id=e.item.item_id,
                kind=e.item.kind,
                sender_id=e.item.sender_id,
                room_id=e.item.room_id,
                priority=effective_bp(e.base_bp, e.arrived_ms, now, self.config.priority) / 10_000,
                waited_s=max(0, now - e.arrived_ms) / 1000,
            )
            for e in self.life.inbox.top(int(max(0, min(n, 1000))) if is_number(n) else 10)
        ]
