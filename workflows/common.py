"""Small things every workflow needs: workflow time in milliseconds, a failure in one line."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError


def now_ms() -> int:
    """Workflow time (deterministic) in milliseconds since the epoch."""
    return int(workflow.now().timestamp() * 1000)


#: At most this many characters of a failure are kept or shown.
CAUSE_LIMIT = 300


def failure_cause(err: BaseException) -> str:
    """Why an activity (or anything else) failed, in one bounded line: an activity's
    application error says its own message, not the wrapper's "Activity task failed"."""
    cause = err.cause if isinstance(err, ActivityError) else err
    text = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
    return text[:CAUSE_LIMIT]
