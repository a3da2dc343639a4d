"""Small things every workflow needs: workflow time in milliseconds, a failure in one line,
and the guards that keep a hostile message from failing a workflow task."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from activities.host import CLAIM, HostClaim
    from activities.queues import queue_for
    from personas.bounds import quote
    from runtime.converter import UndecodablePayload

T = TypeVar("T")


def on_queue(activity: str) -> str:
    """The task queue to schedule ``activity`` on: its role's queue (``activities.queues``)
    derived from this workflow's own queue."""
    return queue_for(activity, workflow.info().task_queue)


def host_gone(err: ActivityError) -> bool:
    """True when no worker took the activity from its queue in time (its schedule-to-start
    timeout): on a host's pinned queue, the host is lost."""
    cause = err.cause
    return isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START


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


#: How long a placement may wait for any host worker to take it.
CLAIM_WAIT = timedelta(minutes=5)


async def claim_host(wait: timedelta = CLAIM_WAIT) -> HostClaim:
    """Place a host-bound object: the host of whichever host worker takes ``host.claim`` from
    the placement queue (Temporal's worker-specific task queue pattern)."""
    claim: HostClaim = await workflow.execute_activity(
        CLAIM,
        result_type=HostClaim,
        start_to_close_timeout=timedelta(seconds=30),
        schedule_to_start_timeout=wait,
        retry_policy=RetryPolicy(maximum_attempts=3),
        task_queue=on_queue(CLAIM),
    )
    return claim


def pinned(host: HostClaim) -> dict[str, Any]:
    """``execute_activity`` options of a host-bound step on ``host``: its pinned queue, and
    its loss timeout as the schedule-to-start timeout (:func:`host_gone` says it fired)."""
    return {
        "task_queue": host.task_queue,
        "schedule_to_start_timeout": timedelta(seconds=host.loss_timeout_s),
    }


async def run_on_queue(
    activity: str,
    arg: Any,
    result_type: type[T],
    start_to_close: timedelta,
    retry: RetryPolicy,
    host: HostClaim | None = None,
) -> T:
    """Run ``activity`` with ``arg`` on its role's queue (:func:`on_queue`), or on ``host``'s
    pinned queue (:func:`pinned`) when given; its result as ``result_type``."""
    route = pinned(host) if host is not None else {"task_queue": on_queue(activity)}
    result: T = await workflow.execute_activity(
        activity,
        arg,
        result_type=result_type,
        start_to_close_timeout=start_to_close,
        retry_policy=retry,
        **route,
    )
    return result
