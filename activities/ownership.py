"""Which deployment owns a Docker object: one label on everything the project creates.

Two deployments (staging and production, two teams) may share one Docker engine. Every
container, volume and image the project creates carries ``persona.deployment=<id>``, and
every clean-up lists objects through :func:`owned_filter`, so a deployment never touches
another's objects. The id is ``PERSONAS_DEPLOYMENT_ID`` when set; otherwise it is derived
from what makes a deployment distinct: the Temporal address and namespace and the store
(``d-`` and 16 hex digits of their SHA-256, so no secret in the store URL is shown).
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

DEPLOYMENT = "persona.deployment"
"""The label naming the deployment that owns a Docker object."""

HOST = "persona.host"
"""The label naming the host (``PERSONAS_HOST_ID``) whose worker created an object."""

ENV = "PERSONAS_DEPLOYMENT_ID"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class OwnershipError(ValueError):
    """A deployment id that cannot be a Docker label value we rely on."""


def check_id(deployment_id: str) -> str:
    """``deployment_id`` if it is 1-63 characters of ``[A-Za-z0-9_.-]``; else OwnershipError."""
    if not ID_PATTERN.match(deployment_id):
        raise OwnershipError(
            f"deployment id {deployment_id[:40]!r} must be 1-63 characters of [A-Za-z0-9_.-]"
        )
    return deployment_id


def derive(temporal_address: str, namespace: str, store_url: str) -> str:
    """The default deployment id of a Temporal address and namespace and a store URL."""
    digest = hashlib.sha256(f"{temporal_address}\n{namespace}\n{store_url}".encode()).hexdigest()
    return f"d-{digest[:16]}"


def resolve(explicit: str, temporal_address: str, namespace: str, store_url: str) -> str:
    """``explicit`` (or ``$PERSONAS_DEPLOYMENT_ID``) when given, else :func:`derive`."""
    chosen = explicit or os.environ.get(ENV, "")
    if chosen:
        return check_id(chosen)
    return derive(temporal_address, namespace, store_url)


def of_client(explicit: str, client: Any, store_url: str) -> str:
    """The deployment of a connected Temporal ``client`` and a store URL."""
    address = str(getattr(client.service_client.config, "target_host", ""))
    return resolve(explicit, address, str(client.namespace), store_url)


def labels(deployment_id: str, host_id: str | None = None) -> dict[str, str]:
    """The ownership labels of a new object (of ``host_id`` too, when given)."""
    found = {DEPLOYMENT: deployment_id}
    if host_id is not None:
        found[HOST] = host_id
    return found


def owned_filter(deployment_id: str, *more: str) -> dict[str, list[str]]:
    """A Docker ``filters`` argument matching only ``deployment_id``'s objects (and ``more``
    label filters, all of which must match)."""
    return {"label": [f"{DEPLOYMENT}={deployment_id}", *more]}


def is_owned(object_labels: dict[str, str] | None, deployment_id: str) -> bool:
    """True when an object's labels name ``deployment_id`` as its owner."""
    return (object_labels or {}).get(DEPLOYMENT) == deployment_id
