"""The shipped agent fixtures (``data/agent``): a handbook folder, a small shop dataset (SQL
text, built into a SQLite file) and a vault that no persona is ever granted.

The demo, the tests and the benchmark copy them into a directory of their own, so every run
starts from the same files and nothing writes into the repository.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "agent"


def materialize(dest: Path) -> dict[str, Path]:
    """Copy the fixtures under ``dest``: ``handbook`` (a directory), ``shop`` (a SQLite file)
    and ``vault`` (a directory); their locations by name."""
    dest.mkdir(parents=True, exist_ok=True)
    handbook, vault, shop = dest / "handbook", dest / "vault", dest / "shop.db"
    for name, path in (("handbook", handbook), ("vault", vault)):
        if not path.exists():
            shutil.copytree(DATA / name, path)
    if not shop.exists():
        connection = sqlite3.connect(shop)
        try:
            connection.executescript((DATA / "shop.sql").read_text())
            connection.commit()
        finally:
            connection.close()
    for path in (dest, handbook, vault, *handbook.rglob("*"), *vault.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shop.chmod(0o644)
    return {"handbook": handbook, "shop": shop, "vault": vault}
