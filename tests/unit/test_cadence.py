"""Cadence: the interval per mood, slowed on a low compute budget; engagement per mood."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from personas.cadence import (
    CadenceConfig,
    EngagementThresholds,
    engages,
    interval_s,
    is_urgent,
    next_item_at_ms,
    pacing_wait_s,
)
from personas.items import BP, HIGH_PRIORITY_BP
from personas.life import LifeConfig
from personas.state import Mood, PersonaState, StateRules

CONFIG = CadenceConfig()
# The seed's defaults: idle is eager, overwhelmed slowest.
DEFAULT_INTERVALS = {Mood.ACTIVE: 5.0, Mood.TIRED: 7.0, Mood.OVERWHELMED: 10.0, Mood.IDLE: 3.0}
DEFAULT_THRESHOLDS = {
    Mood.ACTIVE: 2_000,
    Mood.TIRED: 5_000,
    Mood.OVERWHELMED: 6_500,
    Mood.IDLE: 1_000,
}


@pytest.mark.parametrize(("mood", "seconds"), DEFAULT_INTERVALS.items())
def test_default_interval_per_mood(mood: Mood, seconds: float) -> None:
    assert interval_s(PersonaState(mood=mood), CONFIG) == seconds
    assert interval_s(PersonaState(mood=mood, compute_budget=0.5), CONFIG) == seconds
    assert interval_s(PersonaState(mood=mood, compute_budget=0.4999), CONFIG) == 2 * seconds
    assert interval_s(PersonaState(mood=mood, compute_budget=0.0), CONFIG) == 2 * seconds


def test_custom_cadence_is_honoured() -> None:
    config = CadenceConfig(
        active_s=1, tired_s=2, overwhelmed_s=4, idle_s=60, low_budget_below=0.5, low_budget_factor=3
    )
    assert interval_s(PersonaState(mood=Mood.OVERWHELMED), config) == 4
    assert interval_s(PersonaState(mood=Mood.IDLE, compute_budget=0.4), config) == 180
    assert interval_s(PersonaState(mood=Mood.TIRED, compute_budget=0.5), config) == 2


@settings(max_examples=100, deadline=None)
@given(
    mood=st.sampled_from(Mood),
    budget=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
)
def test_interval_doubles_exactly_below_the_low_budget_mark(mood: Mood, budget: float) -> None:
    seconds = interval_s(PersonaState(mood=mood, compute_budget=budget), CONFIG)
    assert seconds == DEFAULT_INTERVALS[mood] * (2 if budget < 0.5 else 1)


@pytest.mark.parametrize(("mood", "threshold"), DEFAULT_THRESHOLDS.items())
def test_default_engagement_threshold_per_mood(mood: Mood, threshold: int) -> None:
    limits = EngagementThresholds()
    assert engages(threshold, mood, limits)
    assert not engages(threshold - 1, mood, limits)
    assert not engages(0, mood, limits)
    assert engages(HIGH_PRIORITY_BP + 1, mood, limits)


def test_moods_are_ordered_by_choosiness_by_default() -> None:
    limits = EngagementThresholds()
    engaged_at_3000 = {mood for mood in Mood if engages(3_000, mood, limits)}
    assert engaged_at_3000 == {Mood.ACTIVE, Mood.IDLE}
    engaged_at_6000 = {mood for mood in Mood if engages(6_000, mood, limits)}
    assert engaged_at_6000 == {Mood.ACTIVE, Mood.IDLE, Mood.TIRED}


@settings(max_examples=150, deadline=None)
@given(
    mood=st.sampled_from(Mood),
    priority=st.integers(min_value=0, max_value=BP),
    values=st.lists(st.integers(min_value=0, max_value=BP), min_size=4, max_size=4),
)
def test_engagement_is_the_mood_threshold_below_urgency(
    mood: Mood, priority: int, values: list[int]
) -> None:
    limits = EngagementThresholds(
        active_bp=values[0], tired_bp=values[1], overwhelmed_bp=values[2], idle_bp=values[3]
    )
    threshold = {
        Mood.ACTIVE: values[0],
        Mood.TIRED: values[1],
        Mood.OVERWHELMED: values[2],
        Mood.IDLE: values[3],
    }[mood]
    assert is_urgent(priority) == (priority > HIGH_PRIORITY_BP)
    expected = priority > HIGH_PRIORITY_BP or priority >= threshold
    assert engages(priority, mood, limits) == expected


def test_the_next_item_waits_for_the_interval_of_the_mood_the_last_one_left() -> None:
    config = CadenceConfig()
    assert next_item_at_ms(PersonaState(mood=Mood.ACTIVE), config) == 0  # never worked yet
    finished = PersonaState(mood=Mood.IDLE, last_work_ms=1_000_000)
    assert next_item_at_ms(finished, config) == 1_003_000
    flooded = finished.model_copy(update={"mood": Mood.OVERWHELMED, "compute_budget": 0.1})
    assert next_item_at_ms(flooded, config) == 1_020_000
    # Counted from when the last item was taken up, not from when it was finished.
    taken = finished.model_copy(update={"last_taken_ms": 999_000})
    assert next_item_at_ms(taken, config) == 1_002_000


def test_no_wait_once_the_interval_has_passed() -> None:
    config = CadenceConfig(active_s=0.01, idle_s=0.01)
    state = PersonaState(mood=Mood.ACTIVE, last_taken_ms=1_000, last_work_ms=1_050)
    assert pacing_wait_s(state, config, 1_050) == 0  # 50 ms of work used up 10 ms of pacing
    assert pacing_wait_s(state, CadenceConfig(), 1_050) == 4.95
    assert pacing_wait_s(PersonaState(), CadenceConfig(), 0) == 0


@settings(max_examples=150, deadline=None)
@given(
    mood=st.sampled_from(Mood),
    budget=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    taken=st.integers(min_value=1, max_value=10**12),
    work=st.integers(min_value=0, max_value=100_000),
    later=st.integers(min_value=0, max_value=100_000),
)
def test_the_wait_is_what_is_left_of_the_interval(
    mood: Mood, budget: float, taken: int, work: int, later: int
) -> None:
    state = PersonaState(
        mood=mood, compute_budget=budget, last_taken_ms=taken, last_work_ms=taken + work
    )
    now = taken + work + later
    wait = pacing_wait_s(state, CONFIG, now)
    interval_ms = round(interval_s(state, CONFIG) * 1000)
    assert wait >= 0
    assert wait == max(0, interval_ms - work - later) / 1000
    assert (wait == 0) == (now - taken >= interval_ms)


def test_a_life_config_that_could_never_be_overwhelmed_is_refused() -> None:
    with pytest.raises(ValidationError, match="could never be overwhelmed"):
        LifeConfig(inbox_capacity=20)
    assert LifeConfig(inbox_capacity=20, state_rules=StateRules(overwhelmed_at_inbox=20))
