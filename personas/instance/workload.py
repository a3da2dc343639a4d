"""Workload descriptions: structured, or free text mapped to structure by a keyword method.

The text method (documented in data/README.md): the text is lower-cased; the first known
application phrase picks a template (e-commerce site, blog, API, database, analytics,
message queue, ...), a size word scales its request rate (tiny 0.1x ... enterprise 20x),
and explicit figures override the template: "N requests per second" (or rps / req/s /
per minute), "N GB" / "N TB" of data, "N KB" payloads, "N stages". Text with neither a
known phrase nor a figure is refused as unreadable.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Pattern(StrEnum):
    """How load is spread over a day."""

    STEADY = "steady"
    DIURNAL = "diurnal"
    BURSTY = "bursty"
    BATCH = "batch"


class WorkloadSpec(BaseModel):
    """A structured workload description; sizes are validated as non-negative."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_s: float = Field(ge=0, le=1_000_000)
    payload_kb: float = Field(default=8.0, ge=0, le=100_000)
    data_gb: float = Field(default=20.0, ge=0, le=1_000_000)
    read_ratio: float = Field(default=0.8, ge=0, le=1)
    pipeline_stages: int = Field(default=0, ge=0, le=20)
    pattern: Pattern = Pattern.DIURNAL
    role: str = Field(default="web_server", min_length=1, max_length=64)


class UnreadableWorkload(ValueError):
    """The text says nothing the analyzer can map to a workload."""


_SHOP = WorkloadSpec(
    requests_per_s=300,
    payload_kb=24,
    data_gb=80,
    read_ratio=0.85,
    pipeline_stages=2,
    pattern=Pattern.DIURNAL,
    role="web_server",
)

_TEMPLATES: tuple[tuple[str, WorkloadSpec], ...] = (
    ("e-commerce", _SHOP),
    ("ecommerce", _SHOP),
    ("online shop", _SHOP),
    ("blog", WorkloadSpec(requests_per_s=40, payload_kb=40, data_gb=10, read_ratio=0.97,
                          pattern=Pattern.DIURNAL, role="web_server")),
    ("website", WorkloadSpec(requests_per_s=150, payload_kb=30, data_gb=20, read_ratio=0.9,
                             pipeline_stages=1, pattern=Pattern.DIURNAL, role="web_server")),
    ("api", WorkloadSpec(requests_per_s=500, payload_kb=4, data_gb=20, read_ratio=0.7,
                         pipeline_stages=1, pattern=Pattern.BURSTY, role="web_server")),
    ("database", WorkloadSpec(requests_per_s=800, payload_kb=2, data_gb=500, read_ratio=0.7,
                              pattern=Pattern.STEADY, role="database")),
    ("analytics", WorkloadSpec(requests_per_s=20, payload_kb=512, data_gb=2000, read_ratio=0.95,
                               pipeline_stages=4, pattern=Pattern.BATCH, role="analytics_engine")),
    ("etl", WorkloadSpec(requests_per_s=10, payload_kb=1024, data_gb=1000, read_ratio=0.5,
                         pipeline_stages=5, pattern=Pattern.BATCH, role="analytics_engine")),
    ("queue", WorkloadSpec(requests_per_s=2000, payload_kb=2, data_gb=50, read_ratio=0.5,
                           pipeline_stages=1, pattern=Pattern.BURSTY, role="message_queue")),
    ("kafka", WorkloadSpec(requests_per_s=5000, payload_kb=1, data_gb=200, read_ratio=0.5,
                           pipeline_stages=1, pattern=Pattern.STEADY, role="message_queue")),
    ("streaming", WorkloadSpec(requests_per_s=3000, payload_kb=1, data_gb=100, read_ratio=0.5,
                               pipeline_stages=2, pattern=Pattern.STEADY, role="message_queue")),
)  # fmt: skip

_SIZES: dict[str, float] = {
    "tiny": 0.1, "small": 0.4, "medium": 1.0, "medium-sized": 1.0, "mid-sized": 1.0,
    "large": 4.0, "big": 4.0, "huge": 10.0, "enterprise": 20.0,
}  # fmt: skip

_NUM = r"(\d+(?:[.,]\d+)?)\s*(k)?"
_RATE = re.compile(_NUM + r"\s*(?:requests?|req|rps|calls?|messages?|events?)"
                   r"(?:\s*(?:per|/)\s*(second|sec|s|minute|min))?")  # fmt: skip
_DATA = re.compile(r"(\d+(?:[.,]\d+)?)\s*(gb|tb|gib|tib)\b")
_PAYLOAD = re.compile(r"(\d+(?:[.,]\d+)?)\s*(kb|kib|mb)\s*(?:payloads?|messages?|requests?)?")
_STAGES = re.compile(r"(\d+)\s*(?:stages?|steps?)")
_PATTERNS = {
    "batch": Pattern.BATCH,
    "nightly": Pattern.BATCH,
    "spiky": Pattern.BURSTY,
    "bursty": Pattern.BURSTY,
    "steady": Pattern.STEADY,
    "constant": Pattern.STEADY,
}


def _number(text: str, kilo: str | None = None) -> float:
    value = float(text.replace(",", "."))
    return value * 1000 if kilo else value


def parse_text(text: str) -> WorkloadSpec:
    """Map free text to a structured workload, or raise :class:`UnreadableWorkload`."""
    t = " ".join(text.lower().split())
    template = next((spec for key, spec in _TEMPLATES if key in t), None)
    figures: dict[str, object] = {}
    if m := _RATE.search(t):
        per_minute = (m.group(3) or "s").startswith("m")
        figures["requests_per_s"] = _number(m.group(1), m.group(2)) / (60 if per_minute else 1)
    if m := _DATA.search(t):
        figures["data_gb"] = _number(m.group(1)) * (1000 if m.group(2).startswith("t") else 1)
    if m := _PAYLOAD.search(t):
        figures["payload_kb"] = _number(m.group(1)) * (1000 if m.group(2) == "mb" else 1)
    if m := _STAGES.search(t):
        figures["pipeline_stages"] = min(20, int(m.group(1)))
    pattern = next((p for word, p in _PATTERNS.items() if word in t), None)
    if template is None and not figures:
        raise UnreadableWorkload(
            f"cannot read a workload from {text[:60]!r}: name the application (e.g. "
            "'e-commerce website', 'database', 'message queue') or give figures such as "
            "'500 requests per second' or '200 GB of data'"
        )
    base = template or WorkloadSpec(requests_per_s=100)
    scale = next((f for word, f in _SIZES.items() if re.search(rf"\b{word}\b", t)), 1.0)
    fields = base.model_dump()
    fields["requests_per_s"] = base.requests_per_s * scale
    fields["data_gb"] = base.data_gb * math.sqrt(scale)
    fields.update(figures)
    if pattern is not None:
        fields["pattern"] = pattern
    return WorkloadSpec.model_validate(fields)


FEATURE_NAMES: tuple[str, ...] = (
    "bias", "r", "p", "d", "read", "stages", "bursty", "batch", "steady",
    "r2", "p2", "d2", "rp", "rd", "pd", "r_read", "r_stages", "r_bursty", "r_batch", "r_steady",
    "p_stages", "read2", "stages2",
    "r3", "p3", "d3", "r2p", "rp2", "r2d", "d2r", "log_stages", "read_r2",
    "p_bursty", "p_batch", "p_steady", "d_bursty", "d_batch", "d_steady",
    "log_write_rate", "log_bytes_rate",
)  # fmt: skip


def features(spec: WorkloadSpec) -> list[float]:
    """The regression features of a workload: a cubic in the logs of its sizes, pattern
    interactions, and the logs of the write rate and of the byte rate (rate x payload)."""
    r = math.log1p(spec.requests_per_s)
    p = math.log1p(spec.payload_kb)
    d = math.log1p(spec.data_gb)
    read, st = spec.read_ratio, float(spec.pipeline_stages)
    pats = [
        1.0 if spec.pattern is x else 0.0 for x in (Pattern.BURSTY, Pattern.BATCH, Pattern.STEADY)
    ]
    return [
        1.0, r, p, d, read, st, *pats,
        r * r / 10, p * p / 10, d * d / 10, r * p / 10, r * d / 10, p * d / 10,
        r * read, r * st / 10, *(r * x for x in pats), p * st / 10, read * read, st * st / 10,
        r**3 / 100, p**3 / 100, d**3 / 100, r * r * p / 100, r * p * p / 100, r * r * d / 100,
        d * d * r / 100, math.log1p(st), read * r * r / 10,
        *(p * x for x in pats), *(d * x for x in pats),
        math.log1p(spec.requests_per_s * (1 - spec.read_ratio)),
        math.log1p(spec.requests_per_s * spec.payload_kb),
    ]  # fmt: skip


def day_shape(pattern: Pattern) -> tuple[float, ...]:
    """Load over 24 hours as a fraction of the peak (the peak hour is 1.0)."""
    hours = range(24)
    if pattern is Pattern.STEADY:
        raw = [0.85 + 0.15 * math.cos((h - 14) * math.pi / 12) for h in hours]
    elif pattern is Pattern.DIURNAL:
        raw = [0.55 + 0.45 * math.cos((h - 14) * math.pi / 12) for h in hours]
    elif pattern is Pattern.BURSTY:
        raw = [0.35 + 0.2 * math.cos((h - 14) * math.pi / 12) for h in hours]
        raw[11], raw[19] = 1.0, 0.9
    else:
        raw = [1.0 if 1 <= h <= 4 else 0.12 for h in hours]
    top = max(raw)
    return tuple(round(r / top, 4) for r in raw)
