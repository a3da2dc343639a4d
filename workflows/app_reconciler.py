"""The reconciler a Temporal Schedule runs: removes what no live session owns."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.app import contracts
    from workflows.common import on_queue


@workflow.defn
class AppReconciler:
    """One reconciliation pass: containers, volumes and reservations with no live session."""

    @workflow.run
    async def run(self) -> contracts.ReconcileReport:
        """Run the reconcile activity once and return its report."""
        report: contracts.ReconcileReport = await workflow.execute_activity(
            contracts.RECONCILE,
            result_type=contracts.ReconcileReport,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3),
            task_queue=on_queue(contracts.RECONCILE),
        )
        workflow.set_current_details(
            f"checked {report.checked}, removed {len(report.orphaned)} orphaned sessions"
        )
        return report
