"""A room's pure decisions besides the grant: which posts go first, and when a floor closes.

**Delivery order.** A room holds its undelivered posts in a bounded backlog ranked by tier
(a post mentioning a member, then a person's post, then AI chatter), then declared
priority, then arrival. Beyond the room's ``backlog`` the lowest-ranked post is shed to the
overflow record, like an inbox. Mentions and persons' posts are *priority* posts: the room
delivers them at once, beside any chatter delivery in flight.

**Deadlines.** A floor's deadline is set when its delivery has finished, never before: a
member late in the delivery order gets as much time as the first. Each member declares its
pace on every bid (``next_free_ms``: when it takes its next item) and the room learns each
member's lag (how long after it was free its bid came). A floor waits for the latest
member's expected answer plus the policy's ``decision_deadline_s``, and never longer than
:func:`max_wait_ms` after its delivery: every floor is decided by a timer that is set the
moment its delivery returns. A bid that still arrives late earns its member the credit of a
lost bid (see :mod:`personas.coordination`), so lateness never costs a member its turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from personas.coordination import FloorPolicy
from personas.items import BP, InboxItem, to_bp
from personas.messages import DELIVER_BATCH_MAX

DELIVERY_BATCH: TypeAdapter[list[Any]] = TypeAdapter(
    Annotated[list[Any], Field(max_length=DELIVER_BATCH_MAX)]
)
"""A ``deliver_batch`` payload: a bounded list; each entry is validated as an item."""

MENTION_TIER = 2
HUMAN_TIER = 1
CHATTER_TIER = 0


class PendingPost(BaseModel):
    """An undelivered room post, with its rank and arrival order."""

    model_config = ConfigDict(frozen=True)

    item: InboxItem
    rank_bp: int = Field(ge=0)
    seq: int = Field(ge=0)

    @property
    def priority(self) -> bool:
        """A mention or a person's post: delivered at once, ahead of chatter."""
        return self.rank_bp > BP


def mentions_member(item: InboxItem, names: Iterable[str] | None) -> bool:
    """Whether the post names a member; with the members' names unknown, any mention."""
    if not item.mentions:
        return False
    if names is None:
        return True
    known = {n.lower() for n in names}
    return any(m.lower() in known for m in item.mentions)


def post_rank_bp(item: InboxItem, names: Iterable[str] | None) -> int:
    """Tier first, then declared priority: higher is delivered earlier."""
    if mentions_member(item, names):
        tier = MENTION_TIER
    elif item.sender_is_human:
        tier = HUMAN_TIER
    else:
        tier = CHATTER_TIER
    return tier * (BP + 1) + to_bp(item.priority)


def _order(post: PendingPost) -> tuple[int, int]:
    return (-post.rank_bp, post.seq)


def admit(
    backlog: list[PendingPost], post: PendingPost, capacity: int
) -> tuple[list[PendingPost], PendingPost | None]:
    """The backlog with ``post`` in its place, and the post shed when it overflowed (the
    lowest-ranked, latest arrival: possibly ``post`` itself)."""
    ranked = sorted([*backlog, post], key=_order)
    if len(ranked) <= capacity:
        return ranked, None
    return ranked[:capacity], ranked[capacity]


def take(
    backlog: list[PendingPost], priority: bool, limit: int
) -> tuple[list[PendingPost], list[PendingPost]]:
    """Up to ``limit`` best posts of one kind (priority or chatter), and the rest."""
    chosen: list[PendingPost] = []
    rest: list[PendingPost] = []
    for post in backlog:
        (chosen if post.priority == priority and len(chosen) < limit else rest).append(post)
    return chosen, rest


def chatter_room(open_chatter: int, policy: FloorPolicy) -> int:
    """How many more AI-to-AI posts the room may put in front of its members now."""
    return max(0, policy.chatter_window - open_chatter)


class MemberPace(BaseModel):
    """What the room knows of a member's pace: its declared next free time, its lag."""

    model_config = ConfigDict(frozen=True)

    next_free_ms: int = Field(default=0, ge=0)
    lag_ms: int = Field(default=0, ge=0)


def answer_start_ms(delivered_ms: int, pace: MemberPace | None) -> int:
    """When a member can start on a post delivered at ``delivered_ms``."""
    return max(delivered_ms, pace.next_free_ms) if pace else delivered_ms


def floor_deadline_ms(
    delivered_ms: int, expected: Iterable[str], paces: dict[str, MemberPace], policy: FloorPolicy
) -> int:
    """When a floor delivered at ``delivered_ms`` is decided at the latest."""
    slack = round(policy.decision_deadline_s * 1000)
    latest = delivered_ms
    for member in expected:
        pace = paces.get(member)
        lag = pace.lag_ms if pace else 0
        latest = max(latest, answer_start_ms(delivered_ms, pace) + lag)
    return min(delivered_ms + max_wait_ms(policy), latest + slack)


def max_wait_ms(policy: FloorPolicy) -> int:
    """The longest a floor waits after its delivery: ``max_decision_s``, or the decision
    deadline when that is longer (a room configured to wait long for every member)."""
    return round(max(policy.max_decision_s, policy.decision_deadline_s) * 1000)


def observe(
    pace: MemberPace | None, started_ms: int, now_ms: int, next_free_ms: int | None, cap_ms: int
) -> MemberPace:
    """The member's pace after a bid arrived at ``now_ms`` for a post it could start at
    ``started_ms``: its lag rises at once and halves per bid when it shrinks (capped)."""
    observed = min(cap_ms, max(0, now_ms - started_ms))
    previous = pace.lag_ms if pace else 0
    return MemberPace(next_free_ms=max(0, next_free_ms or 0), lag_ms=max(observed, previous // 2))
