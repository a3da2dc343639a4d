"""The bounded priority inbox.

Entries are kept sorted by rank (see :mod:`personas.priority`), head first. When the inbox
is full, the lowest-ranked entry is shed and handed back to the caller, who records it: an
item is never silently lost. Items that wait for other personas' work are held aside until
their dependencies are satisfied.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from personas.items import ITEM_MAX_BYTES, Dependency, InboxEntry, InboxItem
from personas.priority import PriorityWeights, effective_bp, sort_key

DEFAULT_CAPACITY = 1_000
MAX_CAPACITY = 100_000
INBOX_MAX_BYTES = 600_000
"""The most the queued and held items of an inbox may take, encoded: a persona's carried
state must stay well within the server's 2 MB payload limit whatever it is sent. Past it,
the lowest-ranked queued entry (or the oldest held one) is shed, as when the inbox is full."""


class Shed(BaseModel):
    """An entry pushed out of the inbox, and why."""

    entry: InboxEntry
    reason: str


class Inbox(BaseModel):
    """A bounded inbox ordered by effective priority (aging included), plus held items."""

    capacity: int = Field(default=DEFAULT_CAPACITY, ge=1, le=MAX_CAPACITY)
    max_bytes: int = Field(default=INBOX_MAX_BYTES, ge=ITEM_MAX_BYTES, le=INBOX_MAX_BYTES)
    weights: PriorityWeights = PriorityWeights()
    entries: list[InboxEntry] = Field(default_factory=list)
    held: list[InboxEntry] = Field(default_factory=list)
    next_seq: int = 0
    # Derived from ``entries`` and ``held`` (never carried): which item ids are in, and the
    # bytes they take, so a delivery's duplicate check and byte bound cost O(1) rather than
    # a scan of the whole inbox (a room's batch into a full inbox was O(batch x capacity)).
    _ids: Counter[str] = PrivateAttr(default_factory=Counter)
    _bytes: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        """Build the derived index from the entries as decoded."""
        self._ids = Counter(e.item.item_id for e in (*self.entries, *self.held))
        self._bytes = sum(e.size for e in self.entries) + sum(e.size for e in self.held)

    def _added(self, entry: InboxEntry) -> None:
        self._ids[entry.item.item_id] += 1
        self._bytes += entry.size

    def _removed(self, entry: InboxEntry) -> InboxEntry:
        item_id = entry.item.item_id
        self._ids[item_id] -= 1
        if self._ids[item_id] <= 0:
            del self._ids[item_id]
        self._bytes -= entry.size
        return entry

    def _rank(self, entry: InboxEntry) -> tuple[int, int]:
        return (-sort_key(entry.base_bp, entry.arrived_ms, self.weights), entry.seq)

    def __len__(self) -> int:
        return len(self.entries)

    def contains(self, item_id: str) -> bool:
        """Whether an item with this id is queued or held."""
        return item_id in self._ids

    def new_entry(self, item: InboxItem, base_bp: int, arrived_ms: int) -> InboxEntry:
        """Wrap an item with its priority and the next arrival sequence number."""
        entry = InboxEntry(item=item, base_bp=base_bp, arrived_ms=arrived_ms, seq=self.next_seq)
        self.next_seq += 1
        return entry

    def push(self, entry: InboxEntry) -> Shed | None:
        """Queue an entry; if that overfills the inbox, shed and return the lowest-ranked one."""
        bisect.insort(self.entries, entry, key=self._rank)
        self._added(entry)
        if len(self.entries) <= self.capacity:
            return None
        return Shed(entry=self._removed(self.entries.pop()), reason="inbox_full")

    def hold(self, entry: InboxEntry) -> Shed | None:
        """Hold an entry that waits for dependencies; shed the oldest held one when full."""
        self.held.append(entry)
        self._added(entry)
        if len(self.held) <= self.capacity:
            return None
        return Shed(entry=self._removed(self.held.pop(0)), reason="held_overflow")

    def release_ready(self, satisfied: set[Dependency]) -> list[Shed]:
        """Move held entries whose dependencies are all in ``satisfied`` into the queue."""
        ready: list[InboxEntry] = []
        waiting: list[InboxEntry] = []
        for entry in self.held:
            (ready if set(entry.item.waits_for) <= satisfied else waiting).append(entry)
        if not ready:
            return []
        self.held = waiting
        for entry in ready:
            self._removed(entry)
        return [shed for e in ready if (shed := self.push(e)) is not None]

    def size(self) -> int:
        """The queued and held items encoded, in bytes."""
        return self._bytes

    def trim(self) -> list[Shed]:
        """Shed entries until the inbox is within :attr:`max_bytes`: the oldest held ones
        first (they may wait forever), then the lowest-ranked queued ones."""
        sheds: list[Shed] = []
        size = self.size()
        while size > self.max_bytes and (self.held or self.entries):
            if self.held:
                shed = Shed(entry=self._removed(self.held.pop(0)), reason="held_overflow")
            else:
                shed = Shed(entry=self._removed(self.entries.pop()), reason="inbox_bytes")
            size -= shed.entry.size
            sheds.append(shed)
        return sheds

    def peek(self) -> InboxEntry | None:
        """The entry that would be taken next."""
        return self.entries[0] if self.entries else None

    def pop(self) -> InboxEntry:
        """Take the head entry."""
        return self._removed(self.entries.pop(0))

    def top(self, n: int) -> list[InboxEntry]:
        """The first ``n`` entries in processing order."""
        return self.entries[:n]

    def head_effective_bp(self, now_ms: int) -> int:
        """Effective priority of the head entry (0 when empty)."""
        head = self.peek()
        if head is None:
            return 0
        return effective_bp(head.base_bp, head.arrived_ms, now_ms, self.weights)

    def drain(self) -> list[InboxEntry]:
        """Remove and return every queued and held entry."""
        drained = [*self.entries, *self.held]
        self.entries, self.held = [], []
        self._ids.clear()
        self._bytes = 0
        return drained
