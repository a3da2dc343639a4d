"""Workflow updates whose caller learns the outcome exactly once, across continue-as-new.

An update that races a continue-as-new can come back as an error (``workflow update was
aborted``, ``FAILED_PRECONDITION``) although the old run may already have applied it. Every
update therefore carries an idempotent update id, and is sent again with the same id when
the answer was such an error: a workflow that remembers the ids it applied (across runs)
answers a repeat with the first outcome instead of applying it twice.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

#: How many times an update is sent before the error is given to the caller.
UPDATE_ATTEMPTS = 6

_RACED = ("abort", "closing", "completed before the update", "continued as new")


def raced_a_new_run(err: BaseException) -> bool:
    """Whether an update's error says only that the run it reached was closing (so the
    update may or may not have been applied, and sending it again with its id is safe)."""
    if isinstance(err, WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    if isinstance(err, RPCError):
        if err.status == RPCStatusCode.FAILED_PRECONDITION:
            return True
        return any(word in err.message.lower() for word in _RACED)
    return False


def _cancelled() -> bool:
    # The SDK turns the caller's cancellation (a deadline) into the same error as an RPC
    # timeout: sending again would swallow the cancellation and outlive the deadline.
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def new_update_id() -> str:
    """A fresh update id."""
    return uuid.uuid4().hex


async def execute_update_once(
    handle: WorkflowHandle[Any, Any],
    update: Any,
    arg: Any,
    *,
    update_id: str | None = None,
    attempts: int = UPDATE_ATTEMPTS,
) -> Any:
    """Execute ``update`` with ``arg`` under one update id, sending it again while the answer
    is only that it raced a closing run; any other error is raised as it came."""
    update_id = update_id or new_update_id()
    for attempt in range(1, attempts + 1):
        try:
            return await handle.execute_update(update, arg, id=update_id)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
            if attempt == attempts or _cancelled() or not raced_a_new_run(err):
                raise
    raise AssertionError("unreachable")  # pragma: no cover
