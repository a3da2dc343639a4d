"""Workflow id rules: kinds never share an id, and a persona's id reads back from its life's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from personas import ids

RULES = {name: rule for name, rule in vars(ids).items() if isinstance(rule, ids.Prefixed)}


def test_no_prefix_is_a_prefix_of_another() -> None:
    assert len(RULES) == 7
    for name, rule in RULES.items():
        for other_name, other in RULES.items():
            if name != other_name:
                assert not other.prefix.startswith(rule.prefix), (name, other_name)


@given(st.text(max_size=40))
def test_persona_of_workflow_reads_back_the_persona(own_id: str) -> None:
    assert ids.persona_of_workflow(ids.persona_workflow_id(own_id)) == own_id
    for name, rule in RULES.items():
        if name != "persona_workflow_id":
            assert ids.persona_of_workflow(rule(own_id)) is None
