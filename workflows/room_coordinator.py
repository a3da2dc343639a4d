"""A room's coordinator: fans messages out to members and grants the floor.

Members that choose to engage bid with a stored thought; the coordinator waits until every
member has answered or the decision deadline passes, then grants the configured number of
responders (see :func:`personas.coordination.grant_floor`). With no open floors it waits
without a timer, so an idle room costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.contracts import DELIVER, Delivery, DeliveryReport
    from personas import messages
    from personas.bounds import IDENTIFIER, MAX_IDS
    from personas.coordination import Bid, grant_floor
    from personas.errors import first_error
    from personas.ids import persona_workflow_id
    from personas.items import InboxItem
    from personas.life import FloorGrant
    from personas.rooms import (
        MAX_OPEN_FLOORS,
        MAX_PENDING_POSTS,
        OpenFloor,
        RoomInput,
        RoomSnapshot,
        RoomView,
    )
    from runtime.converter import UndecodablePayload
    from workflows.common import WrongArity, refuse, sole, started_with


DELIVERY_BYTES = 500_000
"""The most one delivery activity's items may take, encoded."""


def _now_ms() -> int:
    return int(workflow.now().timestamp() * 1000)


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

    @workflow.run
    async def run(self, input: RoomInput) -> RoomView:
        """Coordinate until the history is long, then continue as new."""
        while workflow.info().get_current_history_length() < input.max_history_events:
            await self._fan_out()
            await self._decide()
            self._show()
            deadlines = [f.deadline_ms for f in self.room.open_floors]
            timeout = max(0.001, (min(deadlines) - _now_ms()) / 1000) if deadlines else None
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        bool(self.room.pending_posts)
                        or any(f.complete() for f in self.room.open_floors)
                    ),
                    timeout=timeout,
                    timeout_summary="decision-deadline",
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(input.model_copy(update={"snapshot": self.room}))

    async def _fan_out(self) -> None:
        while self.room.pending_posts:
            item = self.room.pending_posts.pop(0)
            targets = [m for m in self.room.members if m != item.sender_id]
            # The floor opens before delivery: a member may bid before the delivery returns.
            floor = OpenFloor(
                message_id=item.item_id,
                deadline_ms=_now_ms() + int(self.policy.decision_deadline_s * 1000),
                expected=targets,
            )
            self.room.open_floors.append(floor)
            # In chunks, so that no delivery's payload nears the server's limit.
            per = max(1, DELIVERY_BYTES // (len(item.model_dump_json()) + 200))
            delivered: list[str] = []
            for start in range(0, len(targets), per):
                report: DeliveryReport = await workflow.execute_activity(
                    DELIVER,
                    Delivery(items=[(m, item) for m in targets[start : start + per]]),
                    result_type=DeliveryReport,
                    start_to_close_timeout=timedelta(seconds=60),
                )
                delivered += report.delivered
            floor.expected = delivered
            if not delivered:
                self.room.open_floors.remove(floor)

    async def _decide(self) -> None:
        now_ms = _now_ms()
        ready = [f for f in self.room.open_floors if f.complete() or f.deadline_ms <= now_ms]
        for floor in ready:
            self.room.open_floors.remove(floor)
            candidates = [b for b in floor.bids if b.thought_ref is not None]
            granted, self.room.credits = grant_floor(candidates, self.room.credits, self.policy)
            self.room.decided += 1
            for bid in candidates:
                if bid.persona_id not in granted:
                    continue
                self.room.grants_total[bid.persona_id] = (
                    self.room.grants_total.get(bid.persona_id, 0) + 1
                )
                try:
                    await workflow.get_external_workflow_handle(
                        persona_workflow_id(bid.persona_id)
                    ).signal(
                        messages.FLOOR_GRANTED,
                        FloorGrant(
                            room_id=self.room_id,
                            message_id=floor.message_id,
                            thought_ref=bid.thought_ref,
                        ),
                    )
                except FailureError as err:
                    workflow.logger.warning("grant to %s failed: %s", bid.persona_id, err)

    def _show(self) -> None:
        workflow.set_current_details(
            f"room {self.room_id}: {len(self.room.members)} members, "
            f"{len(self.room.open_floors)} open, {self.room.decided} decided"
        )

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
        if (
            len(self.room.pending_posts) >= MAX_PENDING_POSTS
            or len(self.room.open_floors) >= MAX_OPEN_FLOORS
        ):
            self.room.rejected += 1
            return
        self.room.pending_posts.append(item.model_copy(update={"room_id": self.room_id}))

    @workflow.signal(name=messages.BID)
    def bid(self, *args: Any) -> None:
        """A member's bid (or pass, with no thought) for a message."""
        bid = self._parse("bid", Bid, args)
        if bid is None:
            return
        floor = next((f for f in self.room.open_floors if f.message_id == bid.message_id), None)
        if floor is None or bid.persona_id not in floor.expected:
            self.room.late_bids += 1
            return
        if bid.persona_id not in floor.answered():
            floor.bids.append(bid)

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
            rejected=self.room.rejected,
        )
