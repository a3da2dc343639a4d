"""Workflow ids: pure string rules, one durable workflow per persona, room, cycle and session.

Every kind has its own prefix, and no prefix is a prefix of another, so two kinds can never
be given the same id whatever their own ids contain.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prefixed:
    """A workflow id rule: the kind's own prefix, then the object's id."""

    prefix: str

    def __call__(self, own_id: str) -> str:
        """The workflow id of the object ``own_id``."""
        return f"{self.prefix}{own_id}"


#: The id of a persona's life workflow.
persona_workflow_id = Prefixed("persona-")
#: The id of a room's coordinator workflow.
room_workflow_id = Prefixed("room-")
#: The id of a persona's funding cycle.
funding_workflow_id = Prefixed("funding-")
#: The id of a negotiation's workflow.
negotiation_workflow_id = Prefixed("negotiation-")
#: The id of a fleet's adaptation workflow.
fleet_workflow_id = Prefixed("fleet-")
#: The id of a fleet A/B test's workflow (its own prefix: a fleet id has no pattern).
ab_test_workflow_id = Prefixed("abtest-")
#: The workflow id of an app persona's session.
session_workflow_id = Prefixed("app-session-")


def persona_of_workflow(workflow_id: str) -> str | None:
    """The persona whose life workflow has this id, or None for any other workflow."""
    prefix = persona_workflow_id.prefix
    return workflow_id[len(prefix) :] if workflow_id.startswith(prefix) else None
