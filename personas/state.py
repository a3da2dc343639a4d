"""Energy, attention and mood: computed from workflow time, never from the wall clock."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Mood(StrEnum):
    """How the persona feels, which sets its pace and how choosy it is."""

    ACTIVE = "active"
    TIRED = "tired"
    OVERWHELMED = "overwhelmed"
    IDLE = "idle"


class StateRules(BaseModel):
    """How work depletes a persona and rest recovers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    energy_per_item: float = Field(default=0.02, ge=0, le=1)
    energy_recovery_per_hour: float = Field(default=0.5, ge=0)
    attention_per_switch: float = Field(default=0.05, ge=0, le=1)
    attention_recovery_per_hour: float = Field(default=1.0, ge=0)
    compute_per_item: float = Field(default=0.0, ge=0, le=1)
    tired_below_energy: float = Field(default=0.3, ge=0, le=1)
    overwhelmed_at_inbox: int = Field(default=50, ge=1)


class PersonaState(BaseModel):
    """The persona's condition at ``updated_ms`` (workflow time, epoch milliseconds)."""

    energy: float = Field(default=1.0, ge=0, le=1)
    attention: float = Field(default=1.0, ge=0, le=1)
    compute_budget: float = Field(default=1.0, ge=0, le=1)
    mood: Mood = Mood.IDLE
    updated_ms: int = 0
    last_work_ms: int = 0
    last_taken_ms: int = 0
    last_room: str | None = None


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def rested(state: PersonaState, now_ms: int, rules: StateRules) -> PersonaState:
    """The state after recovering for the time elapsed since it was last updated."""
    hours = max(0, now_ms - state.updated_ms) / 3_600_000 if state.updated_ms else 0.0
    return state.model_copy(
        update={
            "energy": _clamp(state.energy + hours * rules.energy_recovery_per_hour),
            "attention": _clamp(state.attention + hours * rules.attention_recovery_per_hour),
            "updated_ms": now_ms,
        }
    )


def after_work(
    state: PersonaState,
    room_id: str | None,
    now_ms: int,
    rules: StateRules,
    taken_ms: int | None = None,
) -> PersonaState:
    """The state after one item of work taken up at ``taken_ms`` (default: now): energy and
    compute spent, attention on a switch."""
    state = rested(state, now_ms, rules)
    switched = room_id is not None and state.last_room is not None and room_id != state.last_room
    return state.model_copy(
        update={
            "energy": _clamp(state.energy - rules.energy_per_item),
            "attention": _clamp(state.attention - (rules.attention_per_switch if switched else 0)),
            "compute_budget": _clamp(state.compute_budget - rules.compute_per_item),
            "last_room": room_id if room_id is not None else state.last_room,
            "last_work_ms": now_ms,
            "last_taken_ms": now_ms if taken_ms is None else min(taken_ms, now_ms),
        }
    )


def mood_for(state: PersonaState, waiting: int, rules: StateRules) -> Mood:
    """Mood from the state and the number of items waiting."""
    if waiting == 0:
        return Mood.IDLE
    if waiting >= rules.overwhelmed_at_inbox:
        return Mood.OVERWHELMED
    if state.energy < rules.tired_below_energy:
        return Mood.TIRED
    return Mood.ACTIVE


def with_mood(state: PersonaState, waiting: int, rules: StateRules) -> PersonaState:
    """The state with its mood recomputed."""
    return state.model_copy(update={"mood": mood_for(state, waiting, rules)})
