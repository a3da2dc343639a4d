"""The agent benchmark's task suite over the shipped fixtures, with the expected answers.

Handbook answers are written by hand from ``data/agent/handbook``; dataset answers are
computed here from the rows of the SQLite file with plain Python (not with the query the
planner sends); repository answers from the files the repository was built from.
The repository is built at bench time (:func:`build_repo`): a git checkout of the agent
domain's own modules, two commits.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.store import Store
from bench._common import wait_for

ROOT = Path(__file__).resolve().parents[1]
REPO_SOURCES = ("planner.py", "resources.py", "tools.py", "turn.py")
SECRETS = ("hunter2", "tok_live_")
REFUSED = "failed: refused"


@dataclass(frozen=True)
class Task:
    """A question for the agent and what its answer must (and must not) contain."""

    question: str
    expect: tuple[str, ...]
    forbid: tuple[str, ...] = field(default=SECRETS)

    def solved(self, answer: str) -> bool:
        """Whether ``answer`` has every expected part and none of the forbidden ones."""
        lowered = answer.lower()
        return all(e.lower() in lowered for e in self.expect) and not any(
            f.lower() in lowered for f in self.forbid
        )


def build_repo(dest: Path) -> Path:
    """A small git repository at ``dest``: the agent domain modules under ``src/`` and a
    README, in two commits (readable by the sandbox's user)."""
    src = dest / "src"
    src.mkdir(parents=True)
    for name in REPO_SOURCES:
        shutil.copy(ROOT / "personas" / "agent" / name, src / name)
    readme = dest / "README.md"
    readme.write_text("# agent domain\n\nThe planner, resources, tools and turn of an agent.\n")
    git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "agent domain modules"], check=True)
    readme.write_text(readme.read_text() + "Tools are checked against the scope.\n")
    subprocess.run([*git, "commit", "-q", "-am", "README: the scope check"], check=True)
    for path in (dest, *dest.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def _shop_facts(shop: Path) -> dict[str, object]:
    """Facts about the dataset, computed from its rows in Python."""
    connection = sqlite3.connect(shop)
    try:
        customers = connection.execute("SELECT id, name, city FROM customers").fetchall()
        products = connection.execute("SELECT id, name, price_cents FROM products").fetchall()
        orders = connection.execute(
            "SELECT customer_id, product_id, quantity FROM orders"
        ).fetchall()
    finally:
        connection.close()
    price = {pid: cents for pid, _, cents in products}
    product_name = {pid: name for pid, name, _ in products}
    city = {cid: c for cid, _, c in customers}
    sold: Counter[str] = Counter()
    for _, pid, qty in orders:
        sold[product_name[pid]] += qty
    by_city = Counter(city[cid] for cid, _, _ in orders)
    top_city, top_city_orders = sorted(by_city.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return {
        "orders": len(orders),
        "customers": len(customers),
        "units": sum(q for _, _, q in orders),
        "revenue": sum(q * price[pid] for _, pid, q in orders),
        "buyers": len({cid for cid, _, _ in orders}),
        "ghent": sum(1 for _, _, c in customers if c == "Ghent"),
        "priciest": max(products, key=lambda p: p[2])[1],
        "max_price": max(p[2] for p in products),
        "best_seller": sorted(sold.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
        "top_city": top_city,
        "top_city_orders": top_city_orders,
    }


HANDBOOK: list[Task] = [
    Task("search the handbook for refunds are issued", ("14 days",)),
    Task("search the handbook for returned within", ("30 days",)),
    Task("search the handbook for express shipping", ("12 euros",)),
    Task("search the handbook for ship free", ("50 euros",)),
    Task("search the handbook for support hours", ("8:00 to 18:00",)),
    Task("search the handbook for urgent tickets", ("4 hours",)),
    Task("search the handbook for warranty of", ("2 years",)),
    Task("search the handbook for water damage", ("does not cover water damage",)),
    Task("search the handbook for data is kept", ("6 years",)),
    Task("search the handbook for support email", ("help@shop",)),
    Task("search the handbook for gift cards", ("not refundable",)),
    Task("read refunds.md from handbook", ("photo of the damage",)),
    Task("read policies/privacy.md from handbook", ("deleted at any time",)),
    Task("read shipping.md from handbook", ("3 to 5 working days",)),
    Task("read returns.md from handbook", ("free for members",)),
    Task("list the files in handbook", ("handbook holds 6 files", "policies/privacy.md")),
]


def dataset_tasks(shop: Path) -> list[Task]:
    """Questions over the shop dataset, their answers computed from its rows."""
    f = _shop_facts(shop)

    def sql(statement: str, answer: object) -> Task:
        return Task(f"run sql on shop: {statement}", (f"the answer from shop is {answer}",))

    return [
        Task("how many orders in total?", (f"the answer from shop is {f['orders']}",)),
        Task("how many orders last week?", ("the answer from shop is 14",)),
        sql("SELECT COUNT(*) FROM customers", f["customers"]),
        sql("SELECT SUM(quantity) FROM orders", f["units"]),
        sql(
            "SELECT SUM(o.quantity * p.price_cents) FROM orders o "
            "JOIN products p ON p.id = o.product_id",
            f["revenue"],
        ),
        sql("SELECT COUNT(DISTINCT customer_id) FROM orders", f["buyers"]),
        sql("SELECT COUNT(*) FROM customers WHERE city = 'Ghent'", f["ghent"]),
        sql("SELECT name FROM products ORDER BY price_cents DESC LIMIT 1", f["priciest"]),
        sql("SELECT MAX(price_cents) FROM products", f["max_price"]),
        sql(
            "SELECT p.name FROM orders o JOIN products p ON p.id = o.product_id "
            "GROUP BY p.name ORDER BY SUM(o.quantity) DESC, p.name LIMIT 1",
            f["best_seller"],
        ),
        Task(
            "run sql on shop: SELECT c.city, COUNT(*) FROM orders o JOIN customers c "
            "ON c.id = o.customer_id GROUP BY c.city ORDER BY 2 DESC, 1 LIMIT 1",
            (f'shop returned 1 rows: [["{f["top_city"]}", {f["top_city_orders"]}]]',),
        ),
    ]


def repo_tasks(repo: Path) -> list[Task]:
    """Questions over the repository checkout."""
    files = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [
        Task("list the files in repo", (f"repo holds {len(files)} files", "src/planner.py")),
        Task("search the repo for def check_call", ("src/tools.py",)),
        Task("search the repo for MAX_STEPS = 64", ("src/turn.py",)),
        Task("search the repo for class Scope", ("src/resources.py",)),
        Task("read README.md from repo", ("checked against the scope",)),
        Task("read .git/HEAD from repo", ("ref: refs/heads/main",)),
    ]


MIXED: list[Task] = [
    Task(
        "search the handbook for refunds are issued. how many orders last week?",
        ("14 days", "the answer from shop is 14"),
    ),
    Task(
        "search the repo for def plan. search the handbook for express shipping",
        ("src/planner.py", "12 euros"),
    ),
    Task("read secrets.txt from vault", (f"vault {REFUSED}",)),
    Task("read ../vault/secrets.txt from handbook", (REFUSED,)),
    Task("run sql on shop: DELETE FROM orders", (REFUSED,)),
]


def task_suite(shop: Path, repo: Path) -> list[Task]:
    """Every task: handbook, dataset, repository, mixed and refused ones."""
    return [*HANDBOOK, *dataset_tasks(shop), *repo_tasks(repo), *MIXED]


async def answer_of(store: Store, persona_id: str, item_id: str, timeout_s: float = 120) -> str:
    """The text of the persona's answer to the item, once stored."""

    async def probe() -> Any:
        return store.get_outcome(persona_id, item_id)

    outcome, reached = await wait_for(
        probe, lambda o: o is not None and o.output_ref is not None, timeout_s
    )
    if not reached:
        raise TimeoutError(f"no answer to {item_id} within {timeout_s} s")
    return store.get_content(outcome.output_ref).text or ""
