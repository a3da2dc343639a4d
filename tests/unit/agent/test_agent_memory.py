"""An agent persona's memory: a bounded window, older exchanges folded into a bounded
summary, retries changing nothing, and the prompt text it offers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from personas.agent.memory import (
    MAX_SUMMARY,
    MAX_TEXT,
    WINDOW,
    Exchange,
    Memory,
    memory_about,
    memory_prompt,
    remember,
)


def _ex(n: int, answer: str = "") -> Exchange:
    return Exchange.of(f"item-{n}", f"question {n}?", answer or f"Answer {n}. More detail.")


def test_the_window_keeps_the_latest_and_folds_the_oldest_into_the_summary() -> None:
    memory = Memory()
    for n in range(WINDOW + 2):
        memory = remember(memory, _ex(n))
    assert [e.item_id for e in memory.window] == [f"item-{n}" for n in range(2, WINDOW + 2)]
    assert memory.folded == 2
    assert memory.summary == (
        "Asked: question 0? Answered: Answer 0.\nAsked: question 1? Answered: Answer 1."
    )
    assert remember(memory, _ex(WINDOW + 1)) == memory  # a retried turn changes nothing


def test_texts_are_cut_to_their_bound() -> None:
    exchange = Exchange.of("i", "q " * 1000, "a" * 5000)
    assert len(exchange.asked) == MAX_TEXT
    assert exchange.answered.endswith("…")


@given(st.lists(st.text(min_size=0, max_size=800), min_size=1, max_size=40))
def test_memory_stays_bounded_whatever_is_said(answers: list[str]) -> None:
    memory = Memory()
    for n, answer in enumerate(answers):
        memory = remember(memory, Exchange.of(f"i{n}", answer, answer))
    assert len(memory.window) == min(WINDOW, len(answers))
    assert len(memory.summary) <= MAX_SUMMARY
    assert memory.folded == max(0, len(answers) - WINDOW)
    Memory.model_validate(memory.model_dump(mode="json"))  # it round-trips through the store


def test_the_prompt_names_what_is_remembered_and_is_empty_without_memory() -> None:
    assert memory_prompt("person:bob", Memory()) == ""
    memory = remember(Memory(), _ex(1))
    text = memory_prompt("person:bob", memory)
    assert "person:bob" in text
    assert "question 1? / you answered: Answer 1. More detail." in text


def test_an_item_touches_its_room_and_its_sender() -> None:
    assert memory_about("r1", "bob") == ["room:r1", "person:bob"]
    assert memory_about(None, "bob") == ["person:bob"]
