"""Small things every workflow needs: workflow time in milliseconds, a failure in one line,
and the guards that keep a hostile message from failing a workflow task."""

from __future__ import annotations

import math
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.queues import queue_for
    from personas.bounds import quote
    from runtime.converter import UndecodablePayload

T = TypeVar("T")


def on_queue(activity: str) -> str:
    """The task queue to schedule ``activity`` on: its role's queue (``activities.queues``)
    derived from this workflow's own queue."""
    return queue_for(activity, workflow.info().task_queue)


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


class WrongArity(ValueError):
    """A message carried more or fewer payloads than its one."""


def sole(args: tuple[Any, ...]) -> Any:
    """The one payload of a message whose handler takes ``*args`` (so that no number of
    payloads can make the call itself fail the workflow task); :class:`WrongArity` else."""
    if len(args) != 1:
        raise WrongArity(f"expected one payload, got {len(args)}")
    return args[0]


def refuse(what: str, value: Any, expected: str, kind: str = "InvalidInput") -> NoReturn:
    """Refuse an update's input in one bounded line (the value quoted, never whole)."""
    raise ApplicationError(
        f"{what} must be {expected}, got {quote(value)}", type=kind, non_retryable=True
    )


def is_number(value: Any) -> bool:
    """A real, finite number (an int or a float, never a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def started_with(value: T, model: type[T]) -> T:
    """A workflow's start input, checked: a null or binary payload decodes as itself, not as
    ``model``, and fails the workflow (:class:`UndecodablePayload`) rather than its task."""
    if not isinstance(value, model):
        raise UndecodablePayload(f"start input must be a {model.__name__}, got {quote(value)}")
    return value
