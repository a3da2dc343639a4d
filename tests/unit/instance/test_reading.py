"""Workload text read as people write it: quantities, units, rates, users, word-boundary kinds
and the hand-written table of descriptions (data/workload_texts.csv)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.instance.texts import load_texts, text_accuracy
from personas.instance.workload import UnreadableWorkload, parse_text, read_text


def test_the_table_is_large_varied_and_read_at_least_95_percent_right() -> None:
    rows = load_texts()
    assert len(rows) >= 60
    assert len({r["kind"] for r in rows}) >= 12
    assert all(r["source"] for r in rows)
    accuracy = text_accuracy()
    assert accuracy.accuracy_pct >= 95, accuracy.misses


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("2,000 requests per second", "requests_per_s", 2000),
        ("an API at 2,500 requests per second", "requests_per_s", 2500),
        ("1.5 million events per second into Kafka", "requests_per_s", 1_500_000),
        ("300 req/min", "requests_per_s", 5),
        ("1 billion events a day", "requests_per_s", 1e9 / 86400),
        ("5k rps", "requests_per_s", 5000),
        ("a live stream for 10k viewers", "users", 10_000),
        ("a 50-person company", "users", 50),
        ("2 TB of data", "data_gb", 2000),
        ("5 GiB of data", "data_gb", 5 * 1.073741824),
        ("3 PB archive", "data_gb", 3_000_000),
        ("40 KB payloads", "payload_kb", 40),
        ("2 MB per request", "payload_kb", 2000),
        ("80% reads", "read_ratio", 0.8),
    ],
)
def test_quantities_are_read_with_their_units_and_periods(
    text: str, field: str, value: float
) -> None:
    assert getattr(read_text(text), field) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("capital markets trading engine", "trading"),
        ("rapid prototype for a therapist", None),
        ("nightly batch ML training on 2 TB", "ml_training"),
        ("a Postgres database for an online shop", "database"),
        ("an online shop with a Postgres database", "ecommerce"),
        ("a DynamoDB-style store", None),
    ],
)
def test_application_kinds_match_whole_words_and_the_first_named_wins(
    text: str, kind: str | None
) -> None:
    assert read_text(text).kind == kind


def test_the_issue_examples_become_the_workloads_they_describe() -> None:
    training = parse_text("nightly batch ML training on 2 TB")
    assert training.role == "analytics_engine"
    assert training.data_gb == pytest.approx(2000)
    assert training.pattern == "batch"
    small = parse_text("a Postgres database for a 50-person company")
    big = parse_text("a Postgres database for a 5,000-person company")
    assert small.role == "database"
    assert small.requests_per_s < big.requests_per_s
    assert big.requests_per_s == pytest.approx(100 * small.requests_per_s)
    viewers = parse_text("live streaming for 10k concurrent viewers")
    assert viewers.requests_per_s == pytest.approx(10_000 * 0.2)


def test_unreadable_text_is_refused_naming_what_was_not_understood() -> None:
    with pytest.raises(UnreadableWorkload, match="not understood: '5'"):
        parse_text("make it nice for 5 bananas")
    with pytest.raises(UnreadableWorkload, match="name the application"):
        parse_text("rapid prototype for a therapist")


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=9_999_999),
    period=st.sampled_from([("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)]),
    noun=st.sampled_from(["requests", "orders", "messages", "events", "queries"]),
)
def test_any_rate_written_with_thousands_separators_is_read_exactly(
    n: int, period: tuple[str, int], noun: str
) -> None:
    word, seconds = period
    text = f"an API handling {n:,} {noun} per {word}"
    assert read_text(text).requests_per_s == pytest.approx(n / seconds, rel=1e-9)
    assert read_text(text).kind == "api"


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=999),
    unit=st.sampled_from([("GB", 1.0), ("TB", 1000.0), ("MB", 0.001), ("PB", 1e6)]),
)
def test_any_data_size_is_read_in_gigabytes(size: int, unit: tuple[str, float]) -> None:
    symbol, factor = unit
    assert read_text(f"a database with {size} {symbol} of data").data_gb == pytest.approx(
        size * factor, rel=1e-6
    )
