"""Funding benchmark: ledger throughput, no double posts, no overspend, simulated days/s.

Usage: ``python bench/funding.py [--quick]``. Prints progress, then as its LAST line one JSON
object: ``postings_per_s_sqlite``, ``postings_per_s_postgres``, ``raw_postings_per_s_postgres``
(a plain transaction of a posting's core shape, an idempotency-key insert and two guarded
balance updates, on the same database, threads and pool in the same run),
``ledger_vs_raw_ratio`` (ledger over raw on PostgreSQL; goal >= 0.5), ``double_posts`` (after a run
with failures injected at every activity step; must be 0), ``overspend`` (spent beyond
budgets under concurrent holds; must be 0), ``cycle_days_per_s`` (simulated funding days per
wall second on the time-skipping server). Figures are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.worker import Worker  # noqa: E402

from activities.funding.db import Database, FundingError  # noqa: E402
from activities.funding.ledger import (  # noqa: E402
    entity_budget,
    persona_balance,
    persona_held,
    persona_spend,
)
from activities.funding.service import Funding  # noqa: E402
from activities.store import Store  # noqa: E402
from bench._common import postgres_store  # noqa: E402
from personas.funding.cycle import CycleConfig, FundingCycleInput  # noqa: E402
from personas.ids import funding_workflow_id  # noqa: E402
from runtime.servers import time_skipping_env  # noqa: E402
from workers import registry  # noqa: E402
from workflows.funding_cycle import FundingCycle  # noqa: E402

UNIT = 1_000_000


def log(message: str) -> None:
    """Progress on stderr-like stdout lines (the last line is the JSON)."""
    print(f"# {message}", flush=True)


@contextmanager
def sqlite_store() -> Iterator[Store]:
    """A migrated SQLite store in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        try:
            yield store
        finally:
            store.dispose()


def postings_per_s(store: Store, n: int, threads: int = 8) -> float:
    """Balanced postings per second from ``threads`` threads over 16 entities' personas."""
    db = Database(store.url)
    funding = Funding(db)
    for p in range(16):
        funding.setup_persona(f"e{p}", f"p{p}")
        funding.deposit(f"seed-{p}", entity_budget(f"e{p}"), 10**12)

    def post(i: int) -> None:
        e, p = f"e{i % 16}", f"p{i % 16}"
        funding.ledger.post(
            f"b-{i}",
            [(entity_budget(e), -1), (persona_balance(p), 1)],
            persona_id=p,
            entity_id=e,
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(post, range(n)))
    elapsed = time.perf_counter() - start
    assert funding.ledger.total() == 0
    db.dispose()
    return n / elapsed


RAW_POSTING = (
    "INSERT INTO funding_transactions (tx_id, idempotency_key, kind, fingerprint, memo,"
    " persona_id, created_at) VALUES (%(tx)s, %(key)s, 'transfer', %(fp)s, '', %(p)s, now())"
    " ON CONFLICT DO NOTHING",
    "UPDATE funding_accounts SET balance = balance + %(v)s"
    " WHERE account_id = %(a)s AND balance + %(v)s >= 0",
)


def raw_postings_per_s(store: Store, n: int, threads: int = 8) -> float:
    """The baseline: postings of the ledger's core shape (an idempotency-key insert and two
    guarded balance updates in one transaction) written by hand on the DBAPI connection,
    with the same threads, accounts and connection pool as :func:`postings_per_s`."""
    db = Database(store.url)
    funding = Funding(db)
    for p in range(16):
        funding.setup_persona(f"re{p}", f"rp{p}")
        funding.deposit(f"raw-seed-{p}", entity_budget(f"re{p}"), 10**12)
    insert_tx, leg = RAW_POSTING

    def post(i: int) -> None:
        e, p = f"re{i % 16}", f"rp{i % 16}"
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(
                insert_tx, {"tx": uuid.uuid4().hex, "key": f"raw-{i}", "fp": "0" * 64, "p": p}
            )
            cursor.execute(leg, {"v": -1, "a": entity_budget(e)})
            cursor.execute(leg, {"v": 1, "a": persona_balance(p)})
            connection.commit()
        finally:
            connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(post, range(n)))
    elapsed = time.perf_counter() - start
    db.dispose()
    return n / elapsed


def overspend(store: Store, holds: int, threads: int = 16) -> int:
    """Concurrent holds and settles against a 10-unit balance: micro-units beyond it."""
    db = Database(store.url)
    funding = Funding(db)
    funding.setup_persona("os", "spender")
    budget = 10 * UNIT
    funding.deposit("os-seed", persona_balance("spender"), budget)
    barrier = threading.Barrier(threads)

    def work(i: int) -> None:
        if i < threads:
            barrier.wait(timeout=30)
        try:
            funding.ledger.hold(f"os-{i}", "spender", UNIT // 2, timedelta(minutes=5))
        except FundingError:
            return
        funding.ledger.settle(f"os-{i}", UNIT // 2 if i % 3 else UNIT)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(holds)))
    spent = funding.ledger.balance(persona_spend("spender"))
    held = funding.ledger.balance(persona_held("spender"))
    left = funding.ledger.balance(persona_balance("spender"))
    assert spent + held + left == budget
    db.dispose()
    return max(0, spent + held - budget)


def _faults(seen: set[tuple[str, str]], lock: threading.Lock) -> Any:
    def fault(step: str, key: str) -> None:
        with lock:
            if (step, key) in seen:
                return
            seen.add((step, key))
        raise RuntimeError(f"injected failure at {step}")

    return fault


async def cycles(days: int, personas: int) -> tuple[float, int]:
    """Run funding cycles with failures injected at every step; (days/s, double posts)."""
    async with time_skipping_env() as env:
        seen: set[tuple[str, str]] = set()
        with sqlite_store() as store:
            db = Database(store.url)
            funding = Funding(db)
            funding.ledger.open_account(entity_budget("acme"), "entity_budget", entity_id="acme")
            funding.deposit("seed", entity_budget("acme"), 10**12)
            queue = f"bench-{uuid.uuid4().hex[:6]}"
            registered = registry.funding(store, env.client, faults=_faults(seen, threading.Lock()))
            pids = [f"bp{i}" for i in range(personas)]
            async with Worker(
                env.client,
                task_queue=queue,
                **registered.worker_options(),
                activity_executor=ThreadPoolExecutor(max_workers=16),
            ):
                handles = []
                for pid in pids:
                    funding.setup_persona("acme", pid)
                    handles.append(
                        await env.client.start_workflow(
                            FundingCycle.run,
                            FundingCycleInput(
                                persona_id=pid, entity_id="acme", funding_limit=UNIT,
                                allocation=UNIT, config=CycleConfig(period_s=86_400),
                            ),
                            id=funding_workflow_id(pid), task_queue=queue,
                        )
                    )  # fmt: skip
                start = time.perf_counter()
                for day in range(days):
                    await env.sleep(timedelta(days=1))
                    for pid in pids:  # spend everything, so every cycle tops up
                        balance = funding.ledger.balance(persona_balance(pid))
                        if balance:
                            funding.ledger.post(
                                f"spend-{pid}-{day}",
                                [(persona_balance(pid), -balance), (persona_spend(pid), balance)],
                            )
                elapsed = time.perf_counter() - start
                doubles = 0
                for pid, handle in zip(pids, handles, strict=True):
                    view = await handle.query(FundingCycle.view)
                    posted = funding.ledger.count_postings(f"{funding_workflow_id(pid)}:cycle:")
                    doubles += max(0, posted - view.top_ups)
                    await handle.terminate("bench finished")
            assert funding.ledger.total() == 0
            db.dispose()
    log(f"{len(seen)} failures injected over {days} days x {personas} personas")
    return days * personas / elapsed, doubles


def main() -> None:
    """Run the benchmark and print the JSON line last."""
    logging.basicConfig(level=logging.CRITICAL)  # injected failures would flood the output
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under 60 s)")
    args = parser.parse_args()
    n, holds, days, personas = (400, 120, 20, 2) if args.quick else (4_000, 1_000, 90, 5)
    with sqlite_store() as store:
        sqlite_rate = postings_per_s(store, n)
        log(f"sqlite: {sqlite_rate:.0f} postings/s")
        over = overspend(store, holds)
    with postgres_store() as store:
        raw_rate = raw_postings_per_s(store, n)
        pg_rate = postings_per_s(store, n)
        log(f"postgres: {pg_rate:.0f} postings/s, raw baseline {raw_rate:.0f}/s")
        over += overspend(store, holds)
    log(f"overspend under concurrent holds: {over}")
    days_per_s, doubles = asyncio.run(cycles(days, personas))
    log(f"{days_per_s:.1f} simulated funding days/s, {doubles} double posts")
    result = {
        "postings_per_s_sqlite": round(sqlite_rate, 1),
        "postings_per_s_postgres": round(pg_rate, 1),
        "raw_postings_per_s_postgres": round(raw_rate, 1),
        "ledger_vs_raw_ratio": round(pg_rate / raw_rate, 3),
        "double_posts": doubles,
        "overspend": over,
        "cycle_days_per_s": round(days_per_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
