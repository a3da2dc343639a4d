"""Models: profiles, access scopes and inbox items refuse bad input at the edge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from personas.items import MAX_MENTIONS, MAX_TOPICS, MAX_WAITS_FOR, Dependency, InboxItem
from personas.models import AIPersonaProfile, ScopeRefused, check_access_scope, keywords
from tests.helpers import profile
from tests.unit.strategies import T0, item

RESOURCES = ("docs", "repo:api", "repo:web", "db:prod", "s3:logs", "wiki")


# --- profiles --------------------------------------------------------------------------------


def test_a_valid_profile() -> None:
    ada = profile(funding_limit=Decimal("12.5"), expertise=("python", "sql"))
    assert ada.name == "Ada"
    assert ada.funding_limit == Decimal("12.5")
    assert ada.expertise_keywords == frozenset({"python", "sql"})
    assert profile().expertise_keywords == frozenset({"python", "code", "review"})


@pytest.mark.parametrize(
    "name", ["", "1ada", "_ada", "ada lovelace", "ada!", "a" * 65, "Ada\n", "Ádá"]
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        profile(name=name)


@pytest.mark.parametrize("name", ["A", "Ada", "ada_2", "Ada-Lovelace", "a" * 64])
def test_good_names_are_accepted(name: str) -> None:
    assert profile(name=name).name == name


@pytest.mark.parametrize(
    "entity_id", ["", "-acme", ".acme", "ac me", "acme\n", "acme/x", "a" * 129]
)
def test_bad_entity_ids_are_refused(entity_id: str) -> None:
    with pytest.raises(ValidationError, match="entity_id"):
        profile(entity_id=entity_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("access_scope", ("repo:web", "has space")),
        ("access_scope", ("repo:web\n",)),
        ("access_scope", ("-repo",)),
        ("access_scope", ("x" * 129,)),
        ("activation_triggers", ("shift start",)),
        ("activation_triggers", ("go\n",)),
        ("deactivation_triggers", ("",)),
    ],
)
def test_bad_identifiers_in_lists_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match="not a valid identifier"):
        profile(**{field: value})


@pytest.mark.parametrize(
    "overrides",
    [
        {"persona_id": "not-a-uuid"},
        {"funding_limit": Decimal("-0.000001")},
        {"funding_limit": -1},
        {"funding_limit": Decimal("0.0000001")},  # more than six decimal places
        {"base_persona": ""},
        {"specialization": ""},
        {"unknown_field": 1},
    ],
)
def test_bad_profile_fields_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        profile(**overrides)


def test_profiles_are_immutable() -> None:
    ada = profile()
    with pytest.raises(ValidationError):
        ada.name = "Eve"  # type: ignore[misc]


def test_zero_funding_and_explicit_uuid_are_accepted() -> None:
    ada = profile(funding_limit=0, persona_id="6f1c2a3e-0d4b-4c5e-9f60-7a8b9c0d1e2f")
    assert ada.funding_limit == 0
    assert str(ada.persona_id) == "6f1c2a3e-0d4b-4c5e-9f60-7a8b9c0d1e2f"
    assert profile().persona_id != profile().persona_id


def test_keywords_are_lower_case_unique_and_in_order() -> None:
    assert keywords("Python code-review, SQL. python C++ C#") == [
        "python",
        "code-review",
        "sql",
        "c++",
        "c#",
    ]
    assert keywords("...") == []


# --- access scope ----------------------------------------------------------------------------


def test_every_refused_resource_is_named_sorted() -> None:
    ada = profile(access_scope=("wiki", "repo:web", "db:prod", "docs", "db:prod"))
    with pytest.raises(ScopeRefused) as refused:
        check_access_scope(ada, {"repo:web"})
    assert refused.value.refused == ["db:prod", "docs", "wiki"]
    assert refused.value.entity_id == "acme"
    assert (
        str(refused.value)
        == "access scope refused: entity acme does not permit db:prod, docs, wiki"
    )


def test_a_permitted_scope_passes() -> None:
    check_access_scope(profile(access_scope=("repo:web", "docs")), {"repo:web", "docs", "wiki"})
    check_access_scope(profile(access_scope=()), set())


@settings(max_examples=100, deadline=None)
@given(
    scope=st.lists(st.sampled_from(RESOURCES), max_size=8),
    permitted=st.sets(st.sampled_from(RESOURCES)),
)
def test_scope_check_refuses_exactly_what_is_not_permitted(
    scope: list[str], permitted: set[str]
) -> None:
    ada = profile(access_scope=tuple(scope))
    outside = sorted(set(scope) - permitted)
    if not outside:
        check_access_scope(ada, permitted)
        return
    with pytest.raises(ScopeRefused) as refused:
        check_access_scope(ada, permitted)
    assert refused.value.refused == outside
    message = str(refused.value)
    for resource in RESOURCES:
        assert (resource in message.split("permit ", 1)[1].split(", ")) == (resource in outside)


# --- inbox items -----------------------------------------------------------------------------


def test_a_valid_item_and_its_boundaries() -> None:
    assert item(priority=0.0).priority == 0.0
    assert item(priority=1.0).priority == 1.0
    assert len(item(mentions=tuple(f"p{i}" for i in range(MAX_MENTIONS))).mentions) == MAX_MENTIONS
    east = datetime(2025, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    assert item(sent_at=east).sent_at == T0


@pytest.mark.parametrize(
    "overrides",
    [
        {"priority": -0.0001},
        {"priority": -1},
        {"priority": 1.0001},
        {"priority": 2},
        {"priority": float("nan")},
        {"priority": float("inf")},
        {"sent_at": datetime(2025, 1, 1)},  # naive
        {"sent_at": "2025-01-01T00:00:00"},  # naive, as text
        {"unknown": "field"},
        {"mentions": tuple(f"p{i}" for i in range(MAX_MENTIONS + 1))},
        {"mentions": ("x" * 129,)},
        {"topics": ("a b",)},
        {"topics": ("\ud800",)},
        {"topics": tuple(f"t{i}" for i in range(MAX_TOPICS + 1))},
        {"item_id": ""},
        {"item_id": "has space"},
        {"sender_id": "bob\n"},
        {"kind": "Chat"},
        {"room_id": "no room"},
        {"content_ref": "x" * 129},
        {
            "waits_for": tuple(
                {"persona_id": "p", "task_key": f"t{i}"} for i in range(MAX_WAITS_FOR + 1)
            )
        },
    ],
)
def test_bad_items_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        item(**overrides)


def test_items_need_an_id_a_sender_and_a_time() -> None:
    with pytest.raises(ValidationError) as missing:
        InboxItem.model_validate({})
    assert {e["loc"][0] for e in missing.value.errors()} == {"item_id", "sender_id", "sent_at"}


@pytest.mark.parametrize(
    "fields",
    [
        {"persona_id": "", "task_key": "t"},
        {"persona_id": "p", "task_key": "a b"},
        {"persona_id": "p"},
    ],
)
def test_bad_dependencies_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Dependency.model_validate(fields)


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_item_priority_is_accepted_exactly_in_zero_to_one(priority: float) -> None:
    if 0.0 <= priority <= 1.0:
        assert item(priority=priority).priority == priority
    else:
        with pytest.raises(ValidationError):
            item(priority=priority)


def test_an_item_round_trips_through_json() -> None:
    original = item(
        mentions=("ada",),
        topics=("python",),
        priority=0.25,
        room_id="dev",
        waits_for=(Dependency(persona_id="p1", task_key="build"),),
    )
    assert InboxItem.model_validate_json(original.model_dump_json()) == original
    assert AIPersonaProfile.model_validate_json(profile().model_dump_json()).name == "Ada"
