"""The hash chain of the audit log: each entry commits to the previous one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

GENESIS = "0" * 64


class AuditEntry(BaseModel):
    """One audit entry as stored, with its chain hashes."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    stream: str
    seq: int
    at: datetime
    kind: str
    actor: str
    persona_id: str | None
    entity_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def hashed_around_seq(
    stream: str,
    at: datetime,
    kind: str,
    actor: str,
    persona_id: str | None,
    entity_id: str | None,
    data: dict[str, Any],
) -> tuple[str, str]:
    """The canonical JSON encoding of an entry split around its sequence number: the entry
    hashed is ``prefix + str(seq) + suffix``. A database that assigns ``seq`` under its own
    lock can then finish the hash itself (see the ledger's one-statement posting)."""
    prefix = _canonical([stream])[:-1] + ","
    suffix = "," + _canonical([at.isoformat(), kind, actor, persona_id, entity_id, data])[1:]
    return prefix, suffix


def chain_hash(prev_hash: str, prefix: str, seq: int, suffix: str) -> str:
    """SHA-256 of the previous hash and the entry encoded around ``seq``."""
    return hashlib.sha256(f"{prev_hash}|{prefix}{seq}{suffix}".encode()).hexdigest()


def entry_hash(
    prev_hash: str,
    stream: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    persona_id: str | None,
    entity_id: str | None,
    data: dict[str, Any],
) -> str:
    """SHA-256 of the previous hash and a canonical JSON encoding of the entry."""
    prefix, suffix = hashed_around_seq(stream, at, kind, actor, persona_id, entity_id, data)
    return chain_hash(prev_hash, prefix, seq, suffix)


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[bool, str]:
    """Check one stream's links and hashes from the genesis, in ``seq`` order.

    Returns (ok, reason of the first break).
    """
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries:
        if e.seq != expected_seq:
            return False, f"entry {expected_seq} is missing (found {e.seq})"
        if e.prev_hash != prev:
            return False, f"entry {e.seq}: link to the previous entry is broken"
        recomputed = entry_hash(
            e.prev_hash, e.stream, e.seq, e.at, e.kind, e.actor, e.persona_id, e.entity_id, e.data
        )
        if recomputed != e.hash:
            return False, f"entry {e.seq}: content does not match its hash"
        prev = e.hash
        expected_seq += 1
        count += 1
    return True, f"{count} entries, chain intact"
