"""Whether a workflow is still running: how reconcilers decide that what it owned is orphaned."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode


async def is_running(client: Client, workflow_id: str) -> bool:
    """True when the latest run of ``workflow_id`` is running (False when it never existed)."""
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return bool(desc.status == WorkflowExecutionStatus.RUNNING)
