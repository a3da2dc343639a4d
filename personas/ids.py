"""Workflow ids: pure string rules, one durable workflow per persona, room, cycle and session.

Every kind has its own prefix, and no prefix is a prefix of another, so two kinds can never
be given the same id whatever their own ids contain.
"""

from __future__ import annotations


def persona_workflow_id(persona_id: str) -> str:
    """The id of a persona's life workflow."""
    return f"persona-{persona_id}"


def room_workflow_id(room_id: str) -> str:
    """The id of a room's coordinator workflow."""
    return f"room-{room_id}"


def funding_workflow_id(persona_id: str) -> str:
    """The id of a persona's funding cycle."""
    return f"funding-{persona_id}"


def negotiation_workflow_id(negotiation_id: str) -> str:
    """The id of a negotiation's workflow."""
    return f"negotiation-{negotiation_id}"


def fleet_workflow_id(fleet_id: str) -> str:
    """The id of a fleet's adaptation workflow."""
    return f"fleet-{fleet_id}"


def ab_test_workflow_id(ab_id: str) -> str:
    """The id of a fleet A/B test's workflow (its own prefix: a fleet id has no pattern)."""
    return f"abtest-{ab_id}"


def session_workflow_id(session_id: str) -> str:
    """The workflow id of an app persona's session."""
    return f"app-session-{session_id}"


def persona_of_workflow(workflow_id: str) -> str | None:
    """The persona whose life workflow has this id, or None for any other workflow."""
    prefix = persona_workflow_id("")
    return workflow_id[len(prefix) :] if workflow_id.startswith(prefix) else None
