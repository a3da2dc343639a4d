"""A room's coordinator: delivers posts to members by priority and grants the floor fairly.

**Delivery.** Posts wait in a bounded backlog ranked by
:func:`personas.coordination_floor.post_rank_bp`: a post mentioning a member, then a
person's post, then AI chatter; beyond the policy's ``backlog`` the lowest is shed to the
overflow record (owner ``room-<room_id>``). Two delivery lanes run side by side: the
*priority* lane takes mentions and persons' posts the moment they arrive, the *chatter*
lane takes the best chatter in batches, while fewer than the policy's ``chatter_window``
chatter posts are undecided (flow control: a flood waits and sheds in this one backlog, not
in every member's inbox, and the members' worker keeps its time for what is urgent). Each
delivery is one activity that signals every member once (signal-with-start of
``deliver_batch``), concurrently, mentioned members first, so a human's @mention never
waits behind AI-to-AI posts. The room's members are in its memo (``members``): a client
posting a mention signals the mentioned members itself, beside the post
(:meth:`clients.api.PersonaClient.post_to_room`), so the mention does not even wait for the
room; the room's delivery that follows is a duplicate the member ignores, and a bid that
reaches the room before the post's floor opened is kept for it.

**Fair turns.** A floor opens when its post enters a lane and its deadline is set when the
delivery returns: the latest member's expected answer (its declared next free time plus the
lag the room observed) plus ``decision_deadline_s``, bounded by ``max_decision_s``; a floor
is decided as soon as every member answered, otherwise by that timer, which is always set
(a delivery that fails still returns, and a floor nobody got is dropped). A bid that arrives
after its floor was decided earns the member the credit of a lost bid, once per floor.
Credits rank the bids (:func:`personas.coordination.grant_floor`) and a member whose credit
reached a full round of the room (members / responders) is overdue and goes first, so a
member that bids is granted within ``2 x members / responders`` floors, whatever the scores.

With nothing to deliver or decide the room waits without a timer, so an idle room costs
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.contracts import (
        DELIVER_BATCH,
        RECORD_SHED,
        RoomDelivery,
        RoomDeliveryReport,
        ShedBatch,
    )
    from personas import messages
    from personas.bounds import IDENTIFIER, MAX_IDS
    from personas.coordination import Bid, BidBatch, grant_floor, overdue_after
    from personas.coordination_floor import (
        PendingPost,
        admit,
        answer_start_ms,
        chatter_room,
        floor_deadline_ms,
        max_wait_ms,
        observe,
        post_rank_bp,
        take,
    )
    from personas.errors import first_error
    from personas.ids import persona_workflow_id
    from personas.items import InboxItem
    from personas.life import FloorGrant
    from personas.rooms import (
        MAX_OPEN_FLOORS,
        RECENT_FLOORS,
        ClosedFloor,
        OpenFloor,
        RoomInput,
        RoomSnapshot,
        RoomView,
    )
    from runtime.converter import UndecodablePayload
    from workflows.common import WrongArity, now_ms, refuse, sole, started_with

DELIVERY_TIMEOUT = timedelta(seconds=30)
DELIVERY_RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=5))
STORE_TIMEOUT = timedelta(seconds=30)
SHED_BATCH = 200


@workflow.defn(failure_exception_types=[UndecodablePayload])  # an undecodable start fails once
class RoomCoordinator:
    """One room. Its id is ``room-<room_id>``."""

    @workflow.init
    def __init__(self, input: RoomInput) -> None:
        input = started_with(input, RoomInput)
        self.room_id = input.room_id
        self.policy = input.policy
        # Everything the room lives by, changed in place; continue-as-new carries it whole.
        self.room = input.snapshot or RoomSnapshot(members=list(input.members))
        # Delivery lanes in flight (priority, chatter) and the overflow writer; never carried.
        self.lanes: dict[str, asyncio.Task[None]] = {}
        # The memo the room started with lists its members (the client sets it, and so does
        # continue-as-new); it is upserted only when members join or leave.
        self.shown_members: list[str] = list(self.room.members)

    @workflow.run
    async def run(self, input: RoomInput) -> RoomView:
        """Coordinate until the history is long, then continue as new."""
        self._adopt_carried()
        while workflow.info().get_current_history_length() < input.max_history_events:
            self._start_lanes()
            await self._decide()
            self._show()
            # A delivery that returns sets a floor's deadline: that wakes the loop too, so
            # the timer for the earliest deadline is always the one set.
            wake_at = self._next_deadline()
            timeout = max(0.001, (wake_at - now_ms()) / 1000) if wake_at is not None else None
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        self._can_start()
                        or self.shown_members != self.room.members
                        or self._next_deadline() != wake_at  # noqa: B023 (awaited here)
                        or any(f.complete() for f in self.room.open_floors)
                    ),
                    timeout=timeout,
                    timeout_summary="decision-deadline",
                )
        await workflow.wait_condition(lambda: not self.lanes and workflow.all_handlers_finished())
        workflow.continue_as_new(
            input.model_copy(update={"snapshot": self.room}),
            memo={"members": list(self.room.members)},
        )

    # ----------------------------------------------------------------- delivery
    def _adopt_carried(self) -> None:
        """Posts and floors a run carried over: adopted, so nothing is lost or left open."""
        for item in self.room.pending_posts:
            self._enqueue(item)
        self.room.pending_posts.clear()
        for floor in self.room.open_floors:
            if floor.deadline_ms is None:  # carried while delivering: decide it on its pace
                self._delivered(floor, now_ms())
            elif floor.delivered_ms is None:  # carried by the older room: its deadline holds
                floor.delivered_ms = now_ms()

    def _next_deadline(self) -> int | None:
        deadlines = [f.deadline_ms for f in self.room.open_floors if f.deadline_ms is not None]
        return min(deadlines) if deadlines else None

    def _can_start(self) -> bool:
        return (
            ("priority" not in self.lanes and any(p.priority for p in self.room.backlog))
            or (
                "chatter" not in self.lanes
                and self._chatter_room() > 0
                and any(not p.priority for p in self.room.backlog)
            )
            or ("shed" not in self.lanes and bool(self.room.pending_shed))
        )

    def _chatter_room(self) -> int:
        open_chatter = sum(1 for f in self.room.open_floors if f.chatter)
        return chatter_room(open_chatter, self.policy)

    def _start_lanes(self) -> None:
        for lane, priority in (("priority", True), ("chatter", False)):
            if lane in self.lanes:
                continue
            limit = messages.DELIVER_BATCH_MAX
            if not priority:
                limit = min(limit, self._chatter_room())
            posts, self.room.backlog = take(self.room.backlog, priority, limit)
            if posts:
                self._run_lane(lane, self._deliver([p.item for p in posts], chatter=not priority))
        if "shed" not in self.lanes and self.room.pending_shed:
            self._run_lane("shed", self._write_shed())

    async def _signal(self, persona_id: str, signal: str, payload: Any) -> None:
        try:
            await workflow.get_external_workflow_handle(persona_workflow_id(persona_id)).signal(
                signal, payload
            )
        except FailureError as err:
            workflow.logger.warning("%s to %s failed: %s", signal, persona_id, err)

    def _run_lane(self, lane: str, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self.lanes[lane] = task
        task.add_done_callback(lambda _: self.lanes.pop(lane, None))

    async def _deliver(self, items: list[InboxItem], chatter: bool) -> None:
        floors = [
            OpenFloor(
                message_id=item.item_id,
                expected=[m for m in self.room.members if m != item.sender_id],
                chatter=chatter,
            )
            for item in items
        ]
        self.room.open_floors.extend(floors)
        if self.room.early_bids:
            for floor in floors:
                floor.bids = [
                    b
                    for b in self.room.early_bids
                    if b.message_id == floor.message_id and b.persona_id in floor.expected
                ]
            opened = {f.message_id for f in floors}
            self.room.early_bids = [b for b in self.room.early_bids if b.message_id not in opened]
        try:
            report: RoomDeliveryReport = await workflow.execute_activity(
                DELIVER_BATCH,
                RoomDelivery(room_id=self.room_id, members=list(self.room.members), items=items),
                result_type=RoomDeliveryReport,
                start_to_close_timeout=DELIVERY_TIMEOUT,
                retry_policy=DELIVERY_RETRY,
            )
            delivered = set(report.delivered)
            self.room.names.update(report.names)
        except ActivityError as err:
            workflow.logger.warning("delivery in room %s failed: %s", self.room_id, err.cause)
            delivered = set()
        at = now_ms()
        for floor in floors:
            floor.expected = [m for m in floor.expected if m in delivered]
            self._delivered(floor, at)
        self.room.open_floors = [f for f in self.room.open_floors if f.expected or f.bids]

    def _delivered(self, floor: OpenFloor, at: int) -> None:
        """The delivery returned: the floor's deadline starts now, paced by its members."""
        floor.delivered_ms = at
        floor.starts = {m: answer_start_ms(at, self.room.paces.get(m)) for m in floor.expected}
        floor.deadline_ms = floor_deadline_ms(at, floor.expected, self.room.paces, self.policy)

    def _enqueue(self, item: InboxItem) -> None:
        names = self.room.names.values() if self.room.names else None
        post = PendingPost(item=item, rank_bp=post_rank_bp(item, names), seq=self.room.posted)
        self.room.posted += 1
        self.room.backlog, shed = admit(self.room.backlog, post, self.policy.backlog)
        if shed is not None:
            self.room.shed += 1
            self.room.pending_shed.append(shed)

    async def _write_shed(self) -> None:
        batch = self.room.pending_shed[:SHED_BATCH]
        reason = f"room {self.room_id} backlog full ({self.policy.backlog})"
        await workflow.execute_activity(
            RECORD_SHED,
            ShedBatch(
                persona_id=f"room-{self.room_id}",
                rows=[
                    (p.item.item_id, reason, p.rank_bp, p.item.model_dump(mode="json"))
                    for p in batch
                ],
            ),
            start_to_close_timeout=STORE_TIMEOUT,
        )
        del self.room.pending_shed[: len(batch)]

    # ----------------------------------------------------------------- decisions
    async def _decide(self) -> None:
        at = now_ms()
        ready = [
            f
            for f in self.room.open_floors
            if f.complete() or (f.deadline_ms is not None and f.deadline_ms <= at)
        ]
        grants: list[tuple[str, FloorGrant]] = []
        overdue_at = overdue_after(len(self.room.members), self.policy.responders)
        for floor in ready:
            self.room.open_floors.remove(floor)
            candidates = [b for b in floor.bids if b.thought_ref is not None]
            granted, self.room.credits = grant_floor(
                candidates, self.room.credits, self.policy, overdue_at
            )
            self.room.decided += 1
            self.room.closed.append(
                ClosedFloor(
                    message_id=floor.message_id,
                    answered=sorted(floor.answered()),
                    starts={m: s for m, s in floor.starts.items() if m not in floor.answered()},
                )
            )
            del self.room.closed[:-RECENT_FLOORS]
            for bid in candidates:
                if bid.persona_id in granted:
                    self.room.grants_total[bid.persona_id] = (
                        self.room.grants_total.get(bid.persona_id, 0) + 1
                    )
                    grants.append(
                        (
                            bid.persona_id,
                            FloorGrant(
                                room_id=self.room_id,
                                message_id=floor.message_id,
                                thought_ref=bid.thought_ref,
                            ),
                        )
                    )
        if grants:
            await asyncio.gather(
                *(self._signal(pid, messages.FLOOR_GRANTED, grant) for pid, grant in grants)
            )

    def _show(self) -> None:
        if self.shown_members != self.room.members:
            self.shown_members = list(self.room.members)
            workflow.upsert_memo({"members": self.shown_members})
        workflow.set_current_details(
            f"room {self.room_id}: {len(self.room.members)} members, "
            f"{len(self.room.backlog)} undelivered, {len(self.room.open_floors)} open, "
            f"{self.room.decided} decided, {self.room.shed} shed"
        )

    # ----------------------------------------------------------------- messages in
    def _parse(self, what: str, model: Any, args: tuple[Any, ...]) -> Any:
        """The signal's one payload as ``model``, or None (counted) when it is not one."""
        try:
            return model.model_validate(sole(args))
        except ValidationError as err:
            reason = first_error(err, "payload")
        except (WrongArity, RecursionError) as err:
            reason = str(err) or "too deeply nested"
        self.room.rejected += 1
        workflow.logger.warning("rejected %s: %s", what, reason[:200])
        return None

    @workflow.signal
    def post(self, *args: Any) -> None:
        """A message posted to the room, delivered to every member but its sender."""
        item = self._parse("room post", InboxItem, args)
        if item is None:
            return
        if len(self.room.open_floors) >= MAX_OPEN_FLOORS:
            self.room.rejected += 1
            return
        self._enqueue(item.model_copy(update={"room_id": self.room_id}))

    @workflow.signal(name=messages.BIDS)
    def bids(self, *args: Any) -> None:
        """A member's bids (or passes, with no thought) for messages, one batch at a time."""
        batch = self._parse("bids", BidBatch, args)
        if batch is None:
            return
        at = now_ms()
        for bid in batch.bids:
            self._take_bid(bid, at)

    def _take_bid(self, bid: Bid, at: int) -> None:
        """One bid for its floor; a bid after its floor was decided earns the member a lost
        bid's credit, once."""
        floor = next((f for f in self.room.open_floors if f.message_id == bid.message_id), None)
        if floor is not None and bid.persona_id in floor.expected:
            if bid.persona_id not in floor.answered():
                floor.bids.append(bid)
                self._learn(bid, floor.starts.get(bid.persona_id, floor.delivered_ms), at)
            return
        closed = next((c for c in self.room.closed if c.message_id == bid.message_id), None)
        if closed is None and floor is None and bid.persona_id in self.room.members:
            # Heard directly (a mention) before the room opened the post's floor: kept for it.
            self.room.early_bids.append(bid)
            del self.room.early_bids[:-RECENT_FLOORS]
            return
        self.room.late_bids += 1
        if closed is None or bid.persona_id in closed.answered:
            return
        closed.answered.append(bid.persona_id)
        self._learn(bid, closed.starts.get(bid.persona_id), at)
        if bid.thought_ref is not None and bid.persona_id in self.room.members:
            self.room.credits[bid.persona_id] = self.room.credits.get(bid.persona_id, 0) + 1
            self.room.late_credited += 1

    def _learn(self, bid: Bid, started_ms: int | None, at: int) -> None:
        if started_ms is None:
            return
        self.room.paces[bid.persona_id] = observe(
            self.room.paces.get(bid.persona_id),
            started_ms,
            at,
            bid.next_free_ms,
            max_wait_ms(self.policy),
        )

    @workflow.update
    def join(self, persona_id: str) -> list[str]:
        """Add a member."""
        if persona_id not in self.room.members:
            self.room.members.append(persona_id)
        return self.room.members

    @join.validator
    def _validate_join(self, persona_id: str) -> None:
        if not isinstance(persona_id, str) or not re.fullmatch(IDENTIFIER, persona_id):
            refuse("a member", persona_id, "a persona id")
        if persona_id not in self.room.members and len(self.room.members) >= MAX_IDS:
            raise ApplicationError(f"a room has at most {MAX_IDS} members", type="RoomFull")

    @workflow.update
    def leave(self, persona_id: str) -> list[str]:
        """Remove a member."""
        if persona_id in self.room.members:
            self.room.members.remove(persona_id)
            self.room.forget_departed()
        return self.room.members

    @leave.validator
    def _validate_leave(self, persona_id: str) -> None:
        if not isinstance(persona_id, str) or not re.fullmatch(IDENTIFIER, persona_id):
            refuse("a member", persona_id, "a persona id")

    @workflow.query
    def view(self) -> RoomView:
        """Members, open floors and how many grants each member received."""
        return RoomView(
            room_id=self.room_id,
            members=self.room.members,
            open_floors=len(self.room.open_floors),
            decided=self.room.decided,
            grants_total=self.room.grants_total,
            late_bids=self.room.late_bids,
            undelivered=len(self.room.backlog),
            shed=self.room.shed,
            late_credited=self.room.late_credited,
            rejected=self.room.rejected,
        )
