"""Workflow ids: one durable workflow per persona and per room."""


def persona_workflow_id(persona_id: str) -> str:
    """The id of a persona's life workflow."""
    return f"persona-{persona_id}"


def room_workflow_id(room_id: str) -> str:
    """The id of a room's coordinator workflow."""
    return f"room-{room_id}"


def persona_of_workflow(workflow_id: str) -> str | None:
    """The persona whose life workflow has this id, or None for any other workflow."""
    prefix = persona_workflow_id("")
    return workflow_id[len(prefix) :] if workflow_id.startswith(prefix) else None
