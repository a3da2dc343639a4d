"""Energy, attention and mood, computed from the timestamps passed in."""

from __future__ import annotations

import time
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personas.state import Mood, PersonaState, StateRules, after_work, mood_for, rested, with_mood

HOUR = 3_600_000
T = 1_700_000_000_000
RULES = StateRules()

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
stamps = st.integers(min_value=1, max_value=4 * 10**12)
rooms = st.none() | st.sampled_from(["lobby", "dev", "ops"])


@st.composite
def state_rules(draw: st.DrawFn) -> StateRules:
    return StateRules(
        energy_per_item=draw(unit),
        energy_recovery_per_hour=draw(st.floats(min_value=0, max_value=10)),
        attention_per_switch=draw(unit),
        attention_recovery_per_hour=draw(st.floats(min_value=0, max_value=10)),
        compute_per_item=draw(unit),
        tired_below_energy=draw(unit),
        overwhelmed_at_inbox=draw(st.integers(min_value=1, max_value=200)),
    )


@st.composite
def states(draw: st.DrawFn) -> PersonaState:
    return PersonaState(
        energy=draw(unit),
        attention=draw(unit),
        compute_budget=draw(unit),
        updated_ms=draw(stamps),
        last_room=draw(rooms),
    )


# --- work ------------------------------------------------------------------------------------


def test_work_spends_energy_and_compute() -> None:
    rules = StateRules(energy_per_item=0.1, compute_per_item=0.25)
    state = PersonaState(energy=0.5, compute_budget=1.0, updated_ms=T)
    after = after_work(state, None, T, rules)
    assert after.energy == pytest.approx(0.4)
    assert after.compute_budget == pytest.approx(0.75)
    again = after_work(after, None, T, rules)
    assert again.energy == pytest.approx(0.3)
    assert again.compute_budget == pytest.approx(0.5)


def test_energy_never_goes_below_zero() -> None:
    state = PersonaState(energy=0.01, updated_ms=T)
    after = after_work(state, None, T, RULES)
    assert after.energy == 0.0
    assert after_work(after, None, T, RULES).energy == 0.0


@settings(max_examples=150, deadline=None)
@given(state=states(), rules=state_rules(), room=rooms)
def test_work_at_the_same_instant_depletes_by_exactly_one_item(
    state: PersonaState, rules: StateRules, room: str | None
) -> None:
    after = after_work(state, room, state.updated_ms, rules)
    assert after.energy == pytest.approx(max(0.0, state.energy - rules.energy_per_item))
    assert after.compute_budget == pytest.approx(
        max(0.0, state.compute_budget - rules.compute_per_item)
    )
    assert 0.0 <= after.energy <= 1.0
    assert 0.0 <= after.compute_budget <= 1.0


# --- attention -------------------------------------------------------------------------------


def test_attention_drops_on_a_room_switch_only() -> None:
    rules = StateRules(attention_per_switch=0.2)
    state = PersonaState(attention=0.9, updated_ms=T)
    first = after_work(state, "dev", T, rules)
    assert first.attention == pytest.approx(0.9)  # no previous room: no switch
    assert first.last_room == "dev"
    same = after_work(first, "dev", T, rules)
    assert same.attention == pytest.approx(0.9)
    no_room = after_work(same, None, T, rules)
    assert no_room.attention == pytest.approx(0.9)
    assert no_room.last_room == "dev"  # a room-less item does not forget the room
    switched = after_work(no_room, "ops", T, rules)
    assert switched.attention == pytest.approx(0.7)
    assert switched.last_room == "ops"
    back = after_work(switched, "dev", T, rules)
    assert back.attention == pytest.approx(0.5)


@settings(max_examples=150, deadline=None)
@given(state=states(), rules=state_rules(), room=rooms)
def test_attention_changes_exactly_when_the_room_changes(
    state: PersonaState, rules: StateRules, room: str | None
) -> None:
    after = after_work(state, room, state.updated_ms, rules)
    switched = room is not None and state.last_room is not None and room != state.last_room
    expected = (
        max(0.0, state.attention - rules.attention_per_switch) if switched else state.attention
    )
    assert after.attention == pytest.approx(expected)
    assert after.last_room == (room if room is not None else state.last_room)


# --- rest ------------------------------------------------------------------------------------


def test_rest_recovers_by_elapsed_hours_times_rate() -> None:
    rules = StateRules(energy_recovery_per_hour=0.5, attention_recovery_per_hour=0.2)
    state = PersonaState(energy=0.2, attention=0.1, updated_ms=T)
    half_hour = rested(state, T + HOUR // 2, rules)
    assert half_hour.energy == pytest.approx(0.45)
    assert half_hour.attention == pytest.approx(0.2)
    assert half_hour.updated_ms == T + HOUR // 2
    long_rest = rested(state, T + 10 * HOUR, rules)
    assert long_rest.energy == 1.0
    assert long_rest.attention == 1.0


def test_rest_needs_a_known_start_and_time_moving_forward() -> None:
    fresh = PersonaState(energy=0.2, updated_ms=0)  # never updated: no elapsed time known
    assert rested(fresh, T, RULES).energy == pytest.approx(0.2)
    assert rested(fresh, T, RULES).updated_ms == T
    stamped = PersonaState(energy=0.2, updated_ms=T)
    assert rested(stamped, T - HOUR, RULES).energy == pytest.approx(0.2)


def test_work_after_rest_recovers_first_then_spends() -> None:
    state = PersonaState(energy=0.2, updated_ms=T)
    after = after_work(state, None, T + HOUR, RULES)  # +0.5 recovered, -0.02 spent
    assert after.energy == pytest.approx(0.68)
    assert after.updated_ms == T + HOUR


@settings(max_examples=150, deadline=None)
@given(
    state=states(),
    rules=state_rules(),
    elapsed=st.integers(min_value=0, max_value=100 * HOUR),
)
def test_rest_is_elapsed_hours_times_rate_capped_at_one(
    state: PersonaState, rules: StateRules, elapsed: int
) -> None:
    now = state.updated_ms + elapsed
    after = rested(state, now, rules)
    hours = elapsed / HOUR
    assert after.energy == pytest.approx(
        min(1.0, state.energy + hours * rules.energy_recovery_per_hour)
    )
    assert after.attention == pytest.approx(
        min(1.0, state.attention + hours * rules.attention_recovery_per_hour)
    )
    assert after.updated_ms == now
    assert after.compute_budget == state.compute_budget


@settings(max_examples=150, deadline=None)
@given(
    state=states(),
    rules=state_rules(),
    first=st.integers(min_value=0, max_value=50 * HOUR),
    second=st.integers(min_value=0, max_value=50 * HOUR),
    shift=st.integers(min_value=-(10**11), max_value=10**11),
)
def test_recovery_depends_only_on_the_timestamps_passed_in(
    state: PersonaState,
    rules: StateRules,
    first: int,
    second: int,
    shift: int,
) -> None:
    def no_clock() -> float:
        raise AssertionError("the domain read the wall clock")

    start = state.updated_ms
    with (
        patch.object(time, "time", no_clock),
        patch.object(time, "time_ns", no_clock),
        patch.object(time, "monotonic", no_clock),
    ):
        in_one_go = rested(state, start + first + second, rules)
        halfway = rested(state, start + first, rules)
        in_two_steps = rested(halfway, start + first + second, rules)
    assert in_two_steps.energy == pytest.approx(in_one_go.energy)
    assert in_two_steps.attention == pytest.approx(in_one_go.attention)
    # Only the elapsed time matters, not when it happened.
    moved = state.model_copy(update={"updated_ms": max(1, start + shift)})
    elsewhere = rested(moved, moved.updated_ms + first + second, rules)
    assert elsewhere.energy == pytest.approx(in_one_go.energy)
    assert elsewhere.attention == pytest.approx(in_one_go.attention)
    # And the same inputs always give the same state.
    assert rested(state, start + first, rules) == rested(state, start + first, rules)


# --- mood ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("energy", "waiting", "mood"),
    [
        (1.0, 0, Mood.IDLE),
        (0.0, 0, Mood.IDLE),
        (1.0, 1, Mood.ACTIVE),
        (1.0, 49, Mood.ACTIVE),
        (1.0, 50, Mood.OVERWHELMED),
        (0.0, 50, Mood.OVERWHELMED),
        (0.29, 10, Mood.TIRED),
        (0.3, 10, Mood.ACTIVE),
        (0.0, 1, Mood.TIRED),
    ],
)
def test_mood_with_default_rules(energy: float, waiting: int, mood: Mood) -> None:
    assert mood_for(PersonaState(energy=energy), waiting, RULES) == mood


@settings(max_examples=150, deadline=None)
@given(state=states(), rules=state_rules(), waiting=st.integers(min_value=0, max_value=300))
def test_mood_rules(state: PersonaState, rules: StateRules, waiting: int) -> None:
    mood = mood_for(state, waiting, rules)
    if waiting == 0:
        assert mood is Mood.IDLE
    elif waiting >= rules.overwhelmed_at_inbox:
        assert mood is Mood.OVERWHELMED
    elif state.energy < rules.tired_below_energy:
        assert mood is Mood.TIRED
    else:
        assert mood is Mood.ACTIVE
    assert with_mood(state, waiting, rules) == state.model_copy(update={"mood": mood})
