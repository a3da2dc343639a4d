"""The names of the messages (signals and updates) workflows receive, each declared once.

A workflow declares its handler with one of these names (``@workflow.signal(name=...)``) and
every sender (another workflow, an activity, a client, a test) uses the same constant. They
live here, at the bottom of the layers, because activities send some of them and must not
import workflows. Handlers that are only ever reached through their method (``handle.signal(
FundingCycle.run_cycle)``) keep their method's name and need no constant.
"""

from __future__ import annotations

from typing import Final

# ------------------------------------------------------------------ every long-lived workflow
STOP: Final = "stop"
"""Signal (no payload): end the workflow's loop. A persona life, a funding cycle and a fleet
adaptation stop on it; a caller that wants the final state awaits the workflow's result."""

# ------------------------------------------------------------------ PersonaLife
DELIVER: Final = "deliver"
"""Signal: an :class:`personas.items.InboxItem` for the persona's inbox."""

SUBSCRIBE: Final = "subscribe"
"""Signal: a :class:`personas.life.Subscription`, another persona waiting for a task."""

DEPENDENCY_DONE: Final = "dependency_done"
"""Signal: a :class:`personas.life.DependencyDone`, a task the persona waited for is done."""

DELIVER_BATCH: Final = "deliver_batch"
"""Signal: a list of at most :data:`DELIVER_BATCH_MAX` inbox items (a room's batched
fan-out); each is delivered as :data:`DELIVER` delivers one."""

DELIVER_BATCH_MAX: Final = 100
"""The most items one :data:`DELIVER_BATCH` signal carries."""

FLOOR_GRANTED: Final = "floor_granted"
"""Signal: a :class:`personas.life.FloorGrant` from a room's coordinator."""

FIRE_TRIGGER: Final = "fire_trigger"
"""Update: an activation or deactivation event (a string); returns ``live`` or ``paused``."""

SET_COMPUTE_BUDGET: Final = "set_compute_budget"
"""Update: the remaining compute budget, a fraction in [0, 1]."""

SET_METERING: Final = "set_metering"
"""Update: whether each model call is held and settled against the persona's funds."""

PERSONA_SIGNALS: Final = (DELIVER, DELIVER_BATCH, SUBSCRIBE, DEPENDENCY_DONE, FLOOR_GRANTED)
"""The signals an activity may send a persona's life (signal-with-start)."""

# ------------------------------------------------------------------ RoomCoordinator
BIDS: Final = "bids"
"""Signal: a :class:`personas.coordination.BidBatch`, a member's bids (or passes) for room
messages, at most :data:`BIDS_MAX` of them: a member sends what it owes a room in one signal,
so a burst of chatter costs the room one signal per member, not one per post and member."""

BIDS_MAX: Final = 100
"""The most bids one :data:`BIDS` signal carries."""

# ------------------------------------------------------------------ InstanceNegotiation
ANSWER: Final = "answer"
"""Signal and update: an :data:`personas.instance.negotiation.Answer` (accept, modify,
reject, add_constraint or counter_offer, told apart by ``kind``). The update returns the
negotiation once it has moved on; the signal is fire-and-forget (invalid ones are recorded)."""

# ------------------------------------------------------------------ AppSession
WAKE: Final = "wake"
"""Signal (payload ignored): capacity was freed, a queued session tries to reserve again."""

PREEMPT: Final = "preempt"
"""Signal: a :class:`personas.app.views.PreemptNotice`, a higher-priority session's claim."""

REVOKED: Final = "revoked"
"""Signal: a :class:`personas.app.views.RevokeNotice`, the user's grant was withdrawn; the
session refuses commands at once and ends in state ``revoked``."""

SANDBOX_GONE: Final = "sandbox_gone"
"""Signal: a :class:`personas.app.views.GoneNotice`, the engine reported that the session's
container died or was removed; the session ends in state ``lost``."""

# ------------------------------------------------------------------ FleetAdaptation
RISK: Final = "risk"
"""Signal: a new risk tolerance in [0, 1] (a strict number; anything else is recorded)."""
