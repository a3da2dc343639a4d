"""Reading workload descriptions as people write them.

Quantities come from ``quantulum3`` (thousands separators, decimals, "1.5 million", words such
as "fifty") with ``pint`` for data units (kB ... PB, KiB ... PiB): a data size is the data set,
or the payload when a per-item noun follows ("40 KB payloads", "2 MB per request"). A count
followed by an item noun and a period ("2,000 requests per second", "1,500 orders an hour",
"1 billion events a day", "300 req/min") is a rate, converted to per second; ``rps`` / ``qps``
/ ``tps`` are per second already. A count of people ("10k viewers", "200 concurrent players",
"a 50-person company") is a user count that drives load (:data:`PER_USER_RPS`). Application
kinds are matched on word boundaries, the earliest mention winning ("a Postgres database for
an online shop" is a database). Text with neither a kind nor a figure is refused, naming the
parts that were not understood.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

import pint
from pydantic import BaseModel, ConfigDict


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


RATE_NOUNS = _vocabulary(
    "request requests req reqs call calls hit hits query queries transaction "
    "transactions order orders message messages msg msgs event events write writes read reads "
    "operation operations ops trade trades checkout checkouts login logins upload uploads "
    "pageview pageviews view views visit visits visitor visitors job jobs record records row "
    "rows document documents log logs span spans metric metrics sample samples tick ticks "
    "payment payments search searches booking bookings impression impressions"
)
PER_SECOND_NOUNS = frozenset({"rps", "qps", "tps", "mps", "eps", "iops"})
PEOPLE_NOUNS = _vocabulary(
    "user users viewer viewers player players visitor visitors employee employees "
    "staff people person customer customers member members student students patient patients "
    "subscriber subscribers client clients device devices sensor sensors seat seats "
    "analyst analysts engineer engineers developer developers agent agents manager managers "
    "attendee attendees doctor doctors nurse nurses teacher teachers driver drivers rider "
    "riders shopper shoppers reader readers listener listeners tenant tenants"
)
CONCURRENT = frozenset({"concurrent", "simultaneous", "online", "active", "live"})
STAGE_NOUNS = frozenset({"stage", "stages", "step", "steps"})
PAYLOAD_NOUNS = _vocabulary(
    "payload payloads message messages request requests response responses "
    "record records event events document documents object objects file files image images "
    "item items page pages row rows each per json xml blobs blob chunk chunks"
)
PERIODS: dict[str, float] = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600, "hourly": 3600,
    "d": 86400, "day": 86400, "days": 86400, "daily": 86400, "nightly": 86400,
    "week": 604800, "weekly": 604800,
    "month": 2_628_000, "months": 2_628_000, "monthly": 2_628_000, "mo": 2_628_000,
}  # fmt: skip
PER_USER_RPS = {"concurrent": 0.2, "population": 0.02}
"""Requests per second one person drives: a concurrent user about one every 5 s; of a
population (employees, customers, members) about a tenth are active at the peak."""


@lru_cache(maxsize=1)
def _units() -> pint.UnitRegistry[float]:
    return pint.UnitRegistry()


@lru_cache(maxsize=1)
def _parser() -> Any:
    """quantulum3's parser, loaded on first use (its unit tables take a moment)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # about the optional classifier
        from quantulum3 import classifier, parser

    # Its optional classifier is a pickle tied to one scikit-learn version; the heuristic
    # disambiguation reads the same way whichever scikit-learn is installed.
    classifier.USE_CLF = False
    return parser


_FILLER = frozenset({"a", "an", "per", "each", "every", "of", "the", "about", "around", "/"})


class UnreadableWorkload(ValueError):
    """The text says nothing the analyzer can map to a workload."""


class Reading(BaseModel):
    """What a description states: its kind and the figures it gives (None when not stated)."""

    model_config = ConfigDict(frozen=True)

    kind: str | None = None
    requests_per_s: float | None = None
    users: float | None = None
    concurrent: bool = False
    data_gb: float | None = None
    payload_kb: float | None = None
    pipeline_stages: int | None = None
    read_ratio: float | None = None
    pattern: str | None = None
    ignored: tuple[str, ...] = ()


def _words(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.lower().replace("-", " ").split():
        for i, part in enumerate(raw.split("/")):
            word = part.strip(".,;:()!?\"'")
            if i:
                out.append("/")
            if word:
                out.append(word)
    return out


def _kilo(q: Any) -> tuple[float, str] | None:
    """'10k', '5k rps', '1.2k' (read by quantulum as kibibytes or kelvin): a thousands count
    and the rest of the surface."""
    first, _, rest = q.surface.partition(" ")
    head = first[:-1].replace(",", "")
    if first[-1:] in ("k", "K") and head.replace(".", "", 1).isdigit():
        return float(head) * 1000, rest
    return None


def _period(words: list[str]) -> float | None:
    for w in words[:4]:
        if w in PERIODS:
            return PERIODS[w]
        if w not in _FILLER:
            return None
    return None


def _count(value: float, following: list[str], fields: dict[str, Any]) -> bool:
    """Assign a plain count by the words after it; False when they say nothing known."""
    words = [w for w in following[:4] if w not in ("of", "about")]
    if not words:
        return False
    concurrent = False
    while words and words[0] in CONCURRENT | {"peak", "daily", "monthly", "total", "unique"}:
        concurrent |= words[0] in CONCURRENT
        words = words[1:]
    if not words:
        return False
    noun = words[0]
    if noun in PER_SECOND_NOUNS:
        fields.setdefault("requests_per_s", value)
        return True
    if noun not in RATE_NOUNS | PEOPLE_NOUNS | PER_SECOND_NOUNS | STAGE_NOUNS and len(words) > 1:
        noun = words[1]  # one modifier: "page views", "IoT sensors", "API calls"
        words = words[1:]
    if noun in RATE_NOUNS or noun in PEOPLE_NOUNS:
        period = _period(words[1:])
        if period is not None:
            fields.setdefault("requests_per_s", value / period)
            return True
    if noun in PEOPLE_NOUNS:
        fields.setdefault("users", value)
        fields.setdefault("concurrent", concurrent or noun in ("viewers", "players", "viewer"))
        return True
    if noun in STAGE_NOUNS:
        fields.setdefault("pipeline_stages", int(value))
        return True
    return False


def _data(q: Any, following: list[str], fields: dict[str, Any]) -> None:
    unit = q.unit.name
    if unit == "kibibyte" and "i" not in q.surface.lower().split()[-1]:
        unit = "kilobyte"  # "40 KB" means kilobytes as people write it
    amount = _units().Quantity(q.value, unit)
    if following[:1] and following[0] in PAYLOAD_NOUNS:
        fields.setdefault("payload_kb", round(float(amount.to("kilobyte").magnitude), 6))
    else:
        fields.setdefault("data_gb", round(float(amount.to("gigabyte").magnitude), 6))


def _percent(value: float, following: list[str], fields: dict[str, Any]) -> bool:
    noun = following[0] if following else ""
    if noun in ("read", "reads"):
        fields.setdefault("read_ratio", value / 100)
    elif noun in ("write", "writes"):
        fields.setdefault("read_ratio", 1 - value / 100)
    else:
        return False
    return True


@lru_cache(maxsize=256)
def read_figures(text: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The figures a text states, and the quantities it holds that say nothing known."""
    fields: dict[str, Any] = {}
    ignored: list[str] = []
    for q in _parser().parse(text):
        following = _words(text[q.span[1] :])
        kilo = _kilo(q)
        entity = q.unit.entity.name
        if kilo is not None:
            value, rest = kilo
            used = _count(value, _words(rest) + following, fields)
        elif entity == "data storage":
            _data(q, following, fields)
            used = True
        elif entity == "frequency":  # "8,000 rps" is read as hertz
            fields.setdefault(
                "requests_per_s", float(_units().Quantity(q.value, q.unit.name).to("Hz").magnitude)
            )
            used = True
        elif q.unit.name == "percentage":
            used = _percent(q.value, following, fields)
        elif entity == "dimensionless":
            used = _count(q.value, following, fields)
        else:
            used = entity == "time"  # "a day", "nightly": periods read with their count
        if not used:
            ignored.append(q.surface)
    return fields, tuple(ignored)


def read(text: str, kinds: dict[str, tuple[str, ...]], patterns: dict[str, str]) -> Reading:
    """What ``text`` states: the earliest application kind it names (``kinds`` maps a kind
    to its phrases, matched on word boundaries), its figures and its load pattern."""
    t = " ".join(text.lower().split())
    found: list[tuple[int, int, str]] = []
    for name, phrases in kinds.items():
        for phrase in phrases:
            if m := re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", t):
                found.append((m.start(), -len(phrase), name))
    kind = min(found)[2] if found else None
    pattern = next(
        (p for word, p in patterns.items() if re.search(rf"\b{re.escape(word)}\b", t)), None
    )
    fields, ignored = read_figures(text)
    return Reading(kind=kind, pattern=pattern, ignored=ignored, **fields)


def refusal(text: str, reading: Reading, known: str) -> UnreadableWorkload:
    """Why nothing could be read from ``text``: which parts were not understood."""
    parts = (
        f"; not understood: {', '.join(repr(p) for p in reading.ignored[:5])}"
        if (reading.ignored)
        else ""
    )
    return UnreadableWorkload(
        f"cannot read a workload from {text[:60]!r}{parts}: name the application ({known}) or "
        "give figures such as '2,000 requests per second', '10k concurrent users' or "
        "'2 TB of data'"
    )
