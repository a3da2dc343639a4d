"""Task-queue priority: urgent items' work goes ahead of ordinary work, at the urgency bound."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from personas.cadence import is_urgent
from personas.items import BP, HIGH_PRIORITY_BP
from personas.task_priority import (
    ORDINARY_TASK_PRIORITY,
    URGENT_TASK_PRIORITY,
    task_priority_key,
)


def test_the_urgency_bound_decides_the_key() -> None:
    assert task_priority_key(HIGH_PRIORITY_BP) == ORDINARY_TASK_PRIORITY
    assert task_priority_key(HIGH_PRIORITY_BP + 1) == URGENT_TASK_PRIORITY
    assert task_priority_key(0) == ORDINARY_TASK_PRIORITY
    assert task_priority_key(BP) == URGENT_TASK_PRIORITY


@given(st.integers(min_value=0, max_value=BP))
def test_urgent_work_runs_ahead_of_any_ordinary_work(priority_bp: int) -> None:
    key = task_priority_key(priority_bp)
    assert 1 <= key <= 5  # the levels the server knows by default
    assert (key < ORDINARY_TASK_PRIORITY) == is_urgent(priority_bp)
