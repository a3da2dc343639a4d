"""The reconciler a Temporal Schedule runs: removes what no live session owns, host by host.

Each host reconciles its own objects (those labelled with this deployment and its host id) on
its pinned queue. The schedule's run reconciles every registered host at once; a host whose
worker takes nothing within ``HOST_WAIT`` is reported unreachable and left for later (a host
worker reconciles itself when it starts: a run given its host id).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.app import contracts
    from activities.queues import host_queue
    from workflows.common import host_gone, on_queue

HOST_WAIT = timedelta(seconds=30)
"""How long a host's reconcile task may wait for its worker before the host is skipped."""


@workflow.defn
class AppReconciler:
    """One reconciliation pass: containers, volumes and reservations with no live session."""

    @workflow.run
    async def run(self, host_id: str | None = None) -> contracts.ReconcileReport:
        """Reconcile ``host_id``, or every registered host; returns the merged report."""
        if host_id:
            hosts = [host_id]
        else:
            hosts = await workflow.execute_activity(
                contracts.HOSTS,
                result_type=list[str],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
                task_queue=on_queue(contracts.HOSTS),
            )
        reports = await asyncio.gather(*(self._one(h) for h in hosts))
        done = [r for r in reports if r is not None]
        unreachable = [h for h, r in zip(hosts, reports, strict=True) if r is None]
        limit = contracts.MAX_REPORTED
        report = contracts.ReconcileReport(
            checked=sum(r.checked for r in done),
            host_id=host_id or "",
            orphaned=[s for r in done for s in r.orphaned][:limit],
            removed=[s for r in done for s in r.removed][:limit],
            unreachable=unreachable[:limit],
        )
        workflow.set_current_details(
            f"checked {report.checked} on {len(done)} hosts, removed {len(report.orphaned)}"
            f" orphaned sessions; unreachable: {', '.join(unreachable) or 'none'}"
        )
        return report

    async def _one(self, host_id: str) -> contracts.ReconcileReport | None:
        try:
            return await workflow.execute_activity(
                contracts.RECONCILE,
                result_type=contracts.ReconcileReport,
                start_to_close_timeout=timedelta(minutes=5),
                schedule_to_start_timeout=HOST_WAIT,
                retry_policy=RetryPolicy(maximum_attempts=3),
                task_queue=host_queue(workflow.info().task_queue, host_id),
            )
        except ActivityError as err:
            if host_gone(err):
                return None
            raise
