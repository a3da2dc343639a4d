"""Instances left on a host by negotiations that are no longer running.

A negotiation removes its instance when it is released; when the instance's host was lost at
that moment, the containers stay there (the negotiation's reason says so). A host worker runs
:func:`reconcile_instances_every` beside its worker: a pass when it starts, so what its
negotiations left while it was gone is removed, then one every interval, so is what a
negotiation terminated meanwhile left (it ran no release).
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from activities.instance.providers import LocalDockerProvider
from activities.workflow_status import is_running
from personas.ids import negotiation_workflow_id


async def reconcile_instances(client: Client, provider: LocalDockerProvider) -> list[str]:
    """Remove the instances on ``provider``'s host whose negotiation is not running; their
    keys."""
    removed = []
    for key in sorted(await asyncio.to_thread(provider.held_keys)):
        if not await is_running(client, negotiation_workflow_id(key)):
            await asyncio.to_thread(provider.deprovision, key)
            removed.append(key)
    return removed


async def reconcile_instances_every(
    client: Client, provider: LocalDockerProvider, every_s: float
) -> None:
    """Reconcile ``provider``'s host now and every ``every_s`` seconds until cancelled; a
    failed pass (Docker or Temporal unreachable) is logged and retried at the next one."""
    while True:
        try:
            removed = await reconcile_instances(client, provider)
        except Exception as err:  # the worker still serves what needs no Docker
            logging.warning("instances on host %s not reconciled: %s", provider.host_id, err)
        else:
            if removed:
                logging.info(
                    "removed instances left on host %s: %s", provider.host_id, ", ".join(removed)
                )
        await asyncio.sleep(every_s)
