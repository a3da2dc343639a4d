"""The workload-text table (data/workload_texts.csv) and how exactly the reader reads it.

Each row is a description written the way people write them, with the structure it states
derived by hand: the application kind, the request rate (per second), the user count, the
data set (GB), the payload (kB) and the load pattern; a blank cell means the text states
none. A field is read right when the reader gives the same kind or pattern, or the same
figure within 1 %, and gives nothing where the cell is blank.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from pydantic import BaseModel

from personas.instance.workload import read_text

TEXTS = Path(__file__).resolve().parents[2] / "data" / "workload_texts.csv"
FIELDS = ("kind", "requests_per_s", "users", "data_gb", "payload_kb", "pattern")


class TextAccuracy(BaseModel):
    """Fields read right over the table, and the ones read wrong."""

    cases: int
    fields: int
    right: int
    misses: list[str]

    @property
    def accuracy_pct(self) -> float:
        """Fields read right, in percent."""
        return round(100 * self.right / self.fields, 2)


def load_texts(path: Path = TEXTS) -> list[dict[str, str]]:
    """The table's rows."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _same(expected: str, got: object) -> bool:
    if expected == "":
        return got is None
    if got is None:
        return False
    if isinstance(got, str):
        return got == expected
    assert isinstance(got, int | float)
    return math.isclose(float(got), float(expected), rel_tol=0.01)


def text_accuracy(path: Path = TEXTS) -> TextAccuracy:
    """Read every row and count the fields read right."""
    rows = load_texts(path)
    misses, right = [], 0
    for row in rows:
        reading = read_text(row["text"]).model_dump()
        for field in FIELDS:
            if _same(row[field], reading[field]):
                right += 1
            else:
                misses.append(f"{row['text'][:50]!r} {field}: {reading[field]} != {row[field]!r}")
    return TextAccuracy(cases=len(rows), fields=len(rows) * len(FIELDS), right=right, misses=misses)
