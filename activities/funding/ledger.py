"""The double-entry ledger: accounts, balanced idempotent postings, holds.

Every posting is one database transaction: the transaction row is inserted with ON CONFLICT
DO NOTHING on its idempotency key (a replay returns the first posting), then each leg is a
conditional ``UPDATE ... SET balance = balance + :amount WHERE balance + :amount >= 0``, in
account order. A credit to an account given a limit also has ``AND balance + :amount <=
:limit`` (a persona's funding limit). A leg that would overdraw, or credit beyond its limit,
matches no row and the whole transaction rolls back. No read-then-write: PostgreSQL locks
the rows it updates (and re-checks the condition on the committed row), SQLite serialises
writers.

A posting is prebuilt statements on the session's connection: the client's CPU per
statement, not the database, set the ledger's pace (about 13 statements and 7 ms of client
CPU a posting at first). On PostgreSQL it is now one statement (see ``_POST_POSTGRES``);
on SQLite, which serialises writers, a few. The audit chain stays per stream (persona,
entity, system), appended inside the posting, every entry hashed over the one before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import NoReturn, cast
from uuid import uuid4

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from activities.funding import audit_log
from activities.funding.db import FundingError, OnDatabase
from activities.funding.draws import link_draws
from activities.funding.tables import Account, Entry, Hold, LedgerTransaction
from activities.store.db import insert_ignore, rowcount, utc
from personas.funding.audit import GENESIS, chain_hash, hashed_around_seq
from personas.funding.money import MAX_MICROS, fmt

WORLD = "world"


class UnknownAccount(FundingError):
    """A posting names an account that does not exist."""


class InsufficientFunds(FundingError):
    """A posting would take an account below zero."""


class LimitExceeded(FundingError):
    """A posting would credit an account beyond the limit it was given."""

    def __init__(self, account_id: str, balance: int, amount: int, limit: int) -> None:
        """The account, its balance when refused, the credit and the limit."""
        super().__init__(
            f"crediting {fmt(amount)} to {account_id} would bring its balance to "
            f"{fmt(balance + amount)}, beyond its limit of {fmt(limit)}"
        )
        self.account_id = account_id
        self.balance = balance
        self.amount = amount
        self.limit = limit


class UnbalancedPosting(FundingError):
    """A posting's legs do not sum to zero, or are otherwise malformed."""


class IdempotencyConflict(FundingError):
    """An idempotency key was reused for a different posting."""


class UnknownHold(FundingError):
    """No hold has the given id."""


def entity_budget(entity_id: str) -> str:
    """Account id of an entity's allocated budget."""
    return f"entity:{entity_id}:budget"


def persona_balance(persona_id: str) -> str:
    """Account id of a persona's spendable balance."""
    return f"persona:{persona_id}:balance"


def persona_held(persona_id: str) -> str:
    """Account id of a persona's reserved (held) funds."""
    return f"persona:{persona_id}:held"


def persona_spend(persona_id: str) -> str:
    """Account id of what a persona has spent."""
    return f"persona:{persona_id}:spend"


def source_account(source_id: str) -> str:
    """Account id of a funding source (payment method, ad pool, contributions)."""
    return f"source:{source_id}"


class Posting(BaseModel):
    """A posted transaction; ``created`` is False when the key had been posted before."""

    model_config = ConfigDict(frozen=True)

    tx_id: str
    idempotency_key: str
    kind: str
    legs: tuple[tuple[str, int], ...]
    created: bool


class HoldRecord(BaseModel):
    """A hold and what became of it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    hold_id: str
    persona_id: str
    amount: int
    charged: int
    status: str
    expires_at: datetime


def _fingerprint(kind: str, legs: Sequence[tuple[str, int]]) -> str:
    body = json.dumps([kind, sorted(legs)], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def merge_legs(legs: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Legs merged per account, zero legs dropped, sorted by account; refused unless they
    are whole micro-units that sum to zero."""
    merged: dict[str, int] = {}
    for account_id, amount in legs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise UnbalancedPosting(f"amount {amount!r} on {account_id} is not whole micro-units")
        if abs(amount) > MAX_MICROS:
            raise UnbalancedPosting(f"amount {amount} on {account_id} is too large")
        merged[account_id] = merged.get(account_id, 0) + amount
    result = sorted((a, v) for a, v in merged.items() if v != 0)
    if not result:
        raise UnbalancedPosting("a posting needs at least one non-zero leg")
    total = sum(v for _, v in result)
    if total != 0:
        raise UnbalancedPosting(f"legs sum to {fmt(total)}, not zero")
    return result


class Ledger(OnDatabase):
    """Accounts, postings and holds on the store's database. Thread-safe."""

    # ------------------------------------------------------------------ accounts
    def open_account(
        self,
        account_id: str,
        kind: str,
        *,
        entity_id: str | None = None,
        persona_id: str | None = None,
        position: int = 0,
        may_go_negative: bool = False,
    ) -> bool:
        """Open an account with a zero balance; True when new (idempotent).

        An account that exists is seen by a read, so opening it again takes no write lock."""
        with self.db.read_tx() as s:
            if s.get(Account, account_id) is not None:
                return False
        values = {
            "account_id": account_id,
            "kind": kind,
            "entity_id": entity_id,
            "persona_id": persona_id,
            "position": position,
            "may_go_negative": may_go_negative,
            "balance": 0,
            "created_at": utc(None),
        }
        with self.db.tx() as s:
            return insert_ignore(s, Account, values)

    def open_world(self) -> None:
        """The external counter-account through which money enters and leaves."""
        self.open_account(WORLD, "world", may_go_negative=True)

    def open_persona(self, entity_id: str, persona_id: str) -> None:
        """Open a persona's balance, held and spend accounts, and its entity's budget."""
        self.open_account(entity_budget(entity_id), "entity_budget", entity_id=entity_id)
        for account_id, kind in (
            (persona_balance(persona_id), "persona_balance"),
            (persona_held(persona_id), "persona_held"),
            (persona_spend(persona_id), "spend"),
        ):
            self.open_account(account_id, kind, entity_id=entity_id, persona_id=persona_id)

    def account(self, account_id: str) -> Account:
        """The account row (detached); :class:`UnknownAccount` when missing."""
        with self.db.read_tx() as s:
            row = s.get(Account, account_id)
            if row is None:
                raise UnknownAccount(f"unknown account {account_id}")
            s.expunge(row)
            return row

    def balance(self, account_id: str) -> int:
        """An account's balance in micro-units."""
        return self.account(account_id).balance

    def sources(self, entity_id: str) -> list[tuple[str, int]]:
        """The entity's pre-approved funding sources in order, with their balances."""
        stmt = (
            select(Account.account_id, Account.balance)
            .where(Account.entity_id == entity_id, Account.kind == "source")
            .order_by(Account.position, Account.account_id)
        )
        with self.db.tx() as s:
            return [(r.account_id, r.balance) for r in s.execute(stmt)]

    def total(self) -> int:
        """Sum of every account's balance: zero in a consistent ledger."""
        with self.db.tx() as s:
            return int(s.execute(select(func.coalesce(func.sum(Account.balance), 0))).scalar() or 0)

    def entries_match_balances(self) -> bool:
        """Whether each account's balance equals the sum of its entries."""
        sums = select(Entry.account_id, func.sum(Entry.amount).label("total")).group_by(
            Entry.account_id
        )
        with self.db.tx() as s:
            by_entries = {r.account_id: int(r.total) for r in s.execute(sums)}
            balances = {r.account_id: r.balance for r in s.scalars(select(Account))}
        return all(by_entries.get(a, 0) == b for a, b in balances.items())

    def count_postings(self, key_prefix: str = "") -> int:
        """How many transactions have an idempotency key starting with ``key_prefix``."""
        stmt = select(func.count()).select_from(LedgerTransaction)
        if key_prefix:
            stmt = stmt.where(LedgerTransaction.idempotency_key.startswith(key_prefix))
        with self.db.tx() as s:
            return int(s.execute(stmt).scalar_one())

    def posting(self, key: str) -> Posting | None:
        """The posting of ``key``, or None."""
        with self.db.tx() as s:
            return self.existing(s, key)

    # ------------------------------------------------------------------ postings
    def post(
        self,
        key: str,
        legs: Sequence[tuple[str, int]],
        *,
        kind: str = "transfer",
        memo: str = "",
        persona_id: str | None = None,
        entity_id: str | None = None,
        actor: str = "system",
        limits: Mapping[str, int] | None = None,
    ) -> Posting:
        """Post a balanced transaction once per ``key``; see the module docstring.

        ``limits`` maps accounts to the most their balance may reach: a credit beyond it
        refuses the whole posting with :class:`LimitExceeded` (a replay of ``key`` returns
        the first posting, whatever the balance is now).
        """
        merged = merge_legs(legs)
        with self.db.engine.begin() as conn:  # no ORM session: a posting is Core statements
            return post_on(conn, key, merged, kind, memo, persona_id, entity_id, actor, limits)

    @staticmethod
    def existing(s: Session | Connection, key: str) -> Posting | None:
        """The posting of ``key`` inside the caller's transaction, or None."""
        tx = s.execute(
            select(LedgerTransaction.tx_id, LedgerTransaction.kind).where(
                LedgerTransaction.idempotency_key == key
            )
        ).one_or_none()
        if tx is None:
            return None
        rows = s.execute(
            select(Entry.account_id, Entry.amount).where(Entry.tx_id == tx.tx_id).order_by(Entry.id)
        )
        return Posting(
            tx_id=tx.tx_id,
            idempotency_key=key,
            kind=tx.kind,
            legs=tuple((r.account_id, r.amount) for r in rows),
            created=False,
        )

    # ------------------------------------------------------------------ holds
    def hold(
        self,
        hold_id: str,
        persona_id: str,
        amount: int,
        ttl: timedelta,
        now: datetime | None = None,
    ) -> HoldRecord:
        """Reserve ``amount`` of the persona's balance before work (idempotent per id)."""
        if amount <= 0:
            raise UnbalancedPosting(f"hold amount {amount} must be positive")
        at = utc(now)
        with self.db.tx() as s:
            created = insert_ignore(
                s,
                Hold,
                {
                    "hold_id": hold_id,
                    "persona_id": persona_id,
                    "amount": amount,
                    "charged": 0,
                    "status": "open",
                    "created_at": at,
                    "expires_at": at + ttl,
                },
            )
            if created:
                legs = [(persona_balance(persona_id), -amount), (persona_held(persona_id), amount)]
                post_on(
                    s.connection(),
                    f"hold:{hold_id}",
                    merge_legs(legs),
                    "hold",
                    "",
                    persona_id,
                    None,
                    "system",
                )
            row = s.get(Hold, hold_id)
            assert row is not None
            return HoldRecord.model_validate(row)

    def _close(self, hold_id: str, status: str, charge: int | None) -> HoldRecord:
        with self.db.tx() as s:
            row = s.get(Hold, hold_id)
            if row is None:
                raise UnknownHold(f"unknown hold {hold_id}")
            # ``charged`` holds what tool calls drew while open (``HoldDraws``): they are paid
            # on release too, since their work was done
            drawn = row.charged
            charged = drawn if charge is None else max(0, min(drawn + charge, row.amount))
            done = s.execute(
                update(Hold)
                .where(Hold.hold_id == hold_id, Hold.status == "open")
                .values(status=status, charged=charged)
            )
            if rowcount(done) == 1:
                p = row.persona_id
                legs = [
                    (persona_held(p), -row.amount),
                    (persona_spend(p), charged),
                    (persona_balance(p), row.amount - charged),
                ]
                posted = post_on(
                    s.connection(),
                    f"{status}:{hold_id}",
                    merge_legs(legs),
                    status,
                    "",
                    p,
                    None,
                    "system",
                )
                link_draws(s, hold_id, posted.tx_id)
            s.expire(row)
            return HoldRecord.model_validate(s.get(Hold, hold_id))

    def settle(self, hold_id: str, actual: int) -> HoldRecord:
        """Charge ``actual`` plus what tool calls drew (at most the hold) to spend and return
        the rest; once."""
        if actual < 0:
            raise UnbalancedPosting(f"settled amount {actual} is negative")
        return self._close(hold_id, "settled", actual)

    def release(self, hold_id: str) -> HoldRecord:
        """Return a hold's amount to the balance (work failed or never ran), less what tool
        calls drew from it (their work was done); once."""
        return self._close(hold_id, "released", None)

    def release_expired(self, now: datetime | None = None, persona_id: str | None = None) -> int:
        """Release every open hold past its expiry (a worker died mid-work); how many."""
        stmt = select(Hold.hold_id).where(Hold.status == "open", Hold.expires_at <= utc(now))
        if persona_id is not None:
            stmt = stmt.where(Hold.persona_id == persona_id)
        with self.db.tx() as s:
            ids = list(s.scalars(stmt))
        released = 0
        for hold_id in ids:
            if self.release(hold_id).status == "released":
                released += 1
        return released

    def get_hold(self, hold_id: str) -> HoldRecord:
        """A hold by id."""
        with self.db.tx() as s:
            row = s.get(Hold, hold_id)
            if row is None:
                raise UnknownHold(f"unknown hold {hold_id}")
            return HoldRecord.model_validate(row)


_ACCOUNTS = cast(Table, Account.__table__)
_AMOUNT = bindparam("amount", type_=BigInteger)
_LEG = (
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.account_id == bindparam("account"),
        _ACCOUNTS.c.may_go_negative.is_(True) | (_ACCOUNTS.c.balance + _AMOUNT >= 0),
    )
    .values(balance=_ACCOUNTS.c.balance + _AMOUNT)
)
"""One leg: add ``amount`` unless the balance would go below zero (statements are built
once: building and cache-keying a statement per posting cost more than executing it)."""
_LEG_WITHIN_LIMIT = _LEG.where(_ACCOUNTS.c.balance + _AMOUNT <= bindparam("limit"))
"""A credit leg to an account given a limit: also unless the balance would exceed it."""
_ENTRIES = insert(cast(Table, Entry.__table__))
_TRANSACTIONS = cast(Table, LedgerTransaction.__table__)
_NEW_TRANSACTION = (
    sqlite_insert(_TRANSACTIONS).on_conflict_do_nothing().returning(_TRANSACTIONS.c.tx_id)
)
"""The idempotency insert on SQLite: a row back when the key is new."""
_POST_POSTGRES = text(
    """
    WITH new_tx AS (
        INSERT INTO funding_transactions
            (tx_id, idempotency_key, kind, fingerprint, memo, persona_id, created_at)
        VALUES (:tx_id, :idempotency_key, :kind, :fingerprint, :memo, :persona_id, :created_at)
        ON CONFLICT DO NOTHING
        RETURNING tx_id
    ), legs AS (
        SELECT * FROM unnest(
            CAST(:accounts AS varchar[]), CAST(:amounts AS bigint[]), CAST(:limits AS bigint[])
        ) WITH ORDINALITY AS l(account_id, amount, lim, n)
        WHERE EXISTS (SELECT 1 FROM new_tx)
    ), locked AS (
        SELECT account_id FROM funding_accounts
        WHERE account_id IN (SELECT account_id FROM legs)
        ORDER BY account_id FOR UPDATE
    ), moved AS (
        UPDATE funding_accounts a SET balance = a.balance + l.amount
        FROM legs l JOIN locked k ON k.account_id = l.account_id
        WHERE a.account_id = l.account_id
          AND (a.may_go_negative OR a.balance + l.amount >= 0)
          AND (l.lim IS NULL OR a.balance + l.amount <= l.lim)
        RETURNING a.account_id
    ), entries AS (
        INSERT INTO funding_entries (tx_id, account_id, amount)
        SELECT :tx_id, l.account_id, l.amount FROM legs l JOIN moved m USING (account_id)
        ORDER BY l.n
    ), head AS (
        INSERT INTO audit_head AS h (stream, seq, hash, prev_hash)
        SELECT :stream, 1, :first_hash, :genesis
        WHERE (SELECT count(*) FROM moved) = :leg_count
        ON CONFLICT (stream) DO UPDATE SET
            seq = h.seq + 1,
            prev_hash = h.hash,
            hash = encode(sha256(convert_to(
                h.hash || '|' || :prefix || (h.seq + 1)::text || :suffix, 'UTF8')), 'hex')
        RETURNING h.seq, h.hash, h.prev_hash
    ), audit AS (
        INSERT INTO audit_log
            (stream, seq, at, kind, actor, persona_id, entity_id, data, prev_hash, hash)
        SELECT :stream, seq, :at, :audit_kind, :actor, :persona_id, :entity_id,
               CAST(:data AS json), prev_hash, hash
        FROM head
    )
    SELECT (SELECT count(*) FROM new_tx) AS created,
           ARRAY(SELECT account_id FROM moved) AS moved
    """
)
"""A whole posting in one statement on PostgreSQL: the idempotency insert, every leg with
its entry, and the audit entry with its stream's head (each statement is a round trip and,
more than the database's work, the client's CPU: it set the ledger's pace). Nothing moves
when the key was posted before. The accounts are locked first, in account order, so
concurrent postings cannot deadlock on them; the audit head is taken only after every leg
moved (its condition reads them), so always after the accounts, and a posting refused by a
leg's guard leaves the chain alone. The head's upsert finishes the entry's hash from the
locked previous hash (see ``hashed_around_seq``), so the chain is verified by the same code
as every other entry's."""


def post_on(
    conn: Connection,
    key: str,
    legs: list[tuple[str, int]],
    kind: str,
    memo: str,
    persona_id: str | None,
    entity_id: str | None,
    actor: str,
    limits: Mapping[str, int] | None = None,
) -> Posting:
    """Post merged, balanced ``legs`` inside the caller's transaction (see the module);
    ``limits`` bound the balances of the accounts they name (see :meth:`Ledger.post`).

    One statement on PostgreSQL (:data:`_POST_POSTGRES`); on SQLite, which serialises
    writers, the idempotency insert, one guarded UPDATE per leg, the entries and the audit
    append. A key posted before returns its first posting. From an ORM session, pass
    ``session.connection()``.
    """
    posting = _PostingRow(
        tx_id=uuid4().hex,
        idempotency_key=key,
        kind=kind,
        fingerprint=_fingerprint(kind, legs),
        memo=memo,
        persona_id=persona_id,
        created_at=utc(None),
    )
    leg_limits = [(limits or {}).get(a) if v > 0 else None for a, v in legs]
    audit = audit_log.Appended(
        kind=f"funding.{kind}",
        actor=actor,
        data={"key": key, "tx_id": posting.tx_id, "legs": [[a, v] for a, v in legs], "memo": memo},
        persona_id=persona_id,
        entity_id=entity_id,
        at=posting.created_at.replace(microsecond=0),
    )
    post = _post_postgres if conn.dialect.name == "postgresql" else _post_sqlite
    if not post(conn, posting, legs, leg_limits, audit):
        return _replay(conn, key, posting.fingerprint)
    return Posting(
        tx_id=posting.tx_id, idempotency_key=key, kind=kind, legs=tuple(legs), created=True
    )


@dataclass(frozen=True)
class _PostingRow:
    """The transaction row a posting inserts."""

    tx_id: str
    idempotency_key: str
    kind: str
    fingerprint: str
    memo: str
    persona_id: str | None
    created_at: datetime


def _post_sqlite(
    conn: Connection,
    posting: _PostingRow,
    legs: list[tuple[str, int]],
    limits: list[int | None],
    audit: audit_log.Appended,
) -> bool:
    """The posting statement by statement; False when its key had been posted before."""
    if conn.execute(_NEW_TRANSACTION, asdict(posting)).first() is None:
        return False
    for (account_id, amount), limit in zip(legs, limits, strict=True):
        params = {"account": account_id, "amount": amount}
        if limit is None:
            result = conn.execute(_LEG, params)
        else:
            result = conn.execute(_LEG_WITHIN_LIMIT, {**params, "limit": limit})
        if rowcount(result) == 0:
            _refuse_leg(conn, account_id, amount, limit)
    entries = [{"tx_id": posting.tx_id, "account_id": a, "amount": v} for a, v in legs]
    conn.execute(_ENTRIES, entries)
    audit_log.append(
        conn,
        audit.kind,
        audit.actor,
        audit.data,
        persona_id=audit.persona_id,
        entity_id=audit.entity_id,
        now=audit.at,
    )
    return True


def _post_postgres(
    conn: Connection,
    posting: _PostingRow,
    legs: list[tuple[str, int]],
    limits: list[int | None],
    audit: audit_log.Appended,
) -> bool:
    """The posting in :data:`_POST_POSTGRES`; False when its key had been posted before.
    Refuses as the first leg whose guard failed (the caller's transaction rolls back)."""
    stream = audit_log.stream_of(audit.persona_id, audit.entity_id)
    prefix, suffix = hashed_around_seq(
        stream, audit.at, audit.kind, audit.actor, audit.persona_id, audit.entity_id, audit.data
    )
    row = conn.execute(
        _POST_POSTGRES,
        {
            **asdict(posting),
            "accounts": [a for a, _ in legs],
            "amounts": [v for _, v in legs],
            "limits": limits,
            "leg_count": len(legs),
            "stream": stream,
            "genesis": GENESIS,
            "first_hash": chain_hash(GENESIS, prefix, 1, suffix),
            "prefix": prefix,
            "suffix": suffix,
            "at": audit.at,
            "audit_kind": audit.kind,
            "actor": audit.actor,
            "entity_id": audit.entity_id,
            "data": json.dumps(audit.data),
        },
    ).one()
    if not row.created:
        return False
    moved = set(row.moved)
    for (account_id, amount), limit in zip(legs, limits, strict=True):
        if account_id not in moved:
            _refuse_leg(conn, account_id, amount, limit)
    return True


def _replay(conn: Connection, key: str, fingerprint: str) -> Posting:
    """The first posting of a key posted before; refused when its legs were different."""
    fp = conn.execute(
        select(LedgerTransaction.fingerprint).where(LedgerTransaction.idempotency_key == key)
    ).scalar_one()
    if fp != fingerprint:
        raise IdempotencyConflict(f"idempotency key {key} was used for a different posting")
    existing = Ledger.existing(conn, key)
    assert existing is not None
    return existing


def _refuse_leg(conn: Connection, account_id: str, amount: int, limit: int | None) -> NoReturn:
    """Raise why a leg's guarded UPDATE matched no row (the caller's transaction rolls back)."""
    balance = conn.execute(
        select(Account.balance).where(Account.account_id == account_id)
    ).scalar_one_or_none()
    if balance is None:
        raise UnknownAccount(f"unknown account {account_id}")
    if limit is not None and balance + amount > limit:
        raise LimitExceeded(account_id, balance, amount, limit)
    raise InsufficientFunds(f"insufficient funds in {account_id}: cannot take {fmt(-amount)}")
