"""Workload descriptions: structured, or free text read into structure.

Free text (read by :mod:`personas.instance.reading`): the earliest application kind named on
word boundaries picks a template (e-commerce site, blog, API, database, analytics, ML
training, message queue, event streaming, video streaming, cache, search, game server,
trading engine ...), a size word scales its request rate (tiny 0.1x ... enterprise 20x), and
the figures the text states override the template: a request rate (any period), a user count
(driving the rate when none is stated), the data set, the payload, pipeline stages, the read
share. Text with neither a known kind nor a figure is refused, naming what was not understood.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from personas.instance.reading import (
    PER_USER_RPS,
    Reading,
    UnreadableWorkload,
    read,
    refusal,
)

__all__ = ["UnreadableWorkload"]


class Pattern(StrEnum):
    """How load is spread over a day."""

    STEADY = "steady"
    DIURNAL = "diurnal"
    BURSTY = "bursty"
    BATCH = "batch"


class WorkloadSpec(BaseModel):
    """A structured workload description; sizes are validated as non-negative."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_s: float = Field(ge=0, le=1_000_000_000)
    payload_kb: float = Field(default=8.0, ge=0, le=100_000)
    data_gb: float = Field(default=20.0, ge=0, le=1_000_000)
    read_ratio: float = Field(default=0.8, ge=0, le=1)
    pipeline_stages: int = Field(default=0, ge=0, le=20)
    pattern: Pattern = Pattern.DIURNAL
    role: str = Field(default="web_server", min_length=1, max_length=64)


_SHOP = WorkloadSpec(
    requests_per_s=300,
    payload_kb=24,
    data_gb=80,
    read_ratio=0.85,
    pipeline_stages=2,
    pattern=Pattern.DIURNAL,
    role="web_server",
)

_WEB = dict(payload_kb=30, data_gb=20, read_ratio=0.9, pipeline_stages=1, role="web_server")
_TEMPLATES: dict[str, WorkloadSpec] = {
    "ecommerce": _SHOP,
    "blog": WorkloadSpec(requests_per_s=40, payload_kb=40, data_gb=10, read_ratio=0.97,
                         pattern=Pattern.DIURNAL, role="web_server"),
    "website": WorkloadSpec(requests_per_s=150, pattern=Pattern.DIURNAL, **_WEB),
    "api": WorkloadSpec(requests_per_s=500, payload_kb=4, data_gb=20, read_ratio=0.7,
                        pipeline_stages=1, pattern=Pattern.BURSTY, role="web_server"),
    "database": WorkloadSpec(requests_per_s=800, payload_kb=2, data_gb=500, read_ratio=0.7,
                             pattern=Pattern.STEADY, role="database"),
    "analytics": WorkloadSpec(requests_per_s=20, payload_kb=512, data_gb=2000, read_ratio=0.95,
                              pipeline_stages=4, pattern=Pattern.BATCH, role="analytics_engine"),
    "etl": WorkloadSpec(requests_per_s=10, payload_kb=1024, data_gb=1000, read_ratio=0.5,
                        pipeline_stages=5, pattern=Pattern.BATCH, role="analytics_engine"),
    "ml_training": WorkloadSpec(requests_per_s=50, payload_kb=2048, data_gb=1000,
                                read_ratio=0.95, pipeline_stages=6, pattern=Pattern.BATCH,
                                role="analytics_engine"),
    "queue": WorkloadSpec(requests_per_s=2000, payload_kb=2, data_gb=50, read_ratio=0.5,
                          pipeline_stages=1, pattern=Pattern.BURSTY, role="message_queue"),
    "streaming": WorkloadSpec(requests_per_s=5000, payload_kb=1, data_gb=200, read_ratio=0.5,
                              pipeline_stages=1, pattern=Pattern.STEADY, role="message_queue"),
    "video": WorkloadSpec(requests_per_s=300, payload_kb=2000, data_gb=2000, read_ratio=0.99,
                          pattern=Pattern.DIURNAL, role="web_server"),
    "cache": WorkloadSpec(requests_per_s=5000, payload_kb=1, data_gb=30, read_ratio=0.9,
                          pattern=Pattern.STEADY, role="database"),
    "search": WorkloadSpec(requests_per_s=200, payload_kb=8, data_gb=300, read_ratio=0.9,
                           pipeline_stages=2, pattern=Pattern.DIURNAL, role="database"),
    "game": WorkloadSpec(requests_per_s=1000, payload_kb=1, data_gb=20, read_ratio=0.5,
                         pattern=Pattern.DIURNAL, role="web_server"),
    "trading": WorkloadSpec(requests_per_s=5000, payload_kb=1, data_gb=100, read_ratio=0.5,
                            pipeline_stages=2, pattern=Pattern.STEADY, role="message_queue"),
}  # fmt: skip

KINDS: dict[str, tuple[str, ...]] = {
    "ecommerce": ("e-commerce", "ecommerce", "online shop", "online store", "web shop",
                  "webshop", "shopify store", "storefront", "checkout"),
    "blog": ("blog", "wordpress", "personal site"),
    "website": ("website", "web site", "web app", "web application", "landing page",
                "marketing site", "portal", "saas", "intranet", "crm", "cms"),
    "api": ("api", "rest api", "backend", "back end", "microservice", "microservices",
            "graphql", "web service"),
    "database": ("database", "postgres", "postgresql", "mysql", "mariadb", "mongodb",
                 "sql server", "oltp", "dynamodb", "cassandra"),
    "analytics": ("analytics", "data warehouse", "reporting", "dashboards", "olap",
                  "business intelligence", "spark cluster"),
    "etl": ("etl", "elt", "data pipeline", "batch job", "batch processing", "ingestion job"),
    "ml_training": ("ml training", "model training", "machine learning training",
                    "training job", "deep learning", "fine-tuning", "fine tuning"),
    "queue": ("message queue", "queue", "rabbitmq", "sqs", "message broker", "job queue"),
    "streaming": ("kafka", "event streaming", "event stream", "stream processing",
                  "clickstream", "telemetry pipeline", "iot ingestion"),
    "video": ("video streaming", "live stream", "live streaming", "video platform",
              "video on demand", "webinar"),
    "cache": ("cache", "redis", "memcached", "session store"),
    "search": ("search engine", "search service", "elasticsearch", "opensearch", "solr",
               "full-text search"),
    "game": ("game server", "game backend", "multiplayer", "gaming backend", "minecraft server"),
    "trading": ("trading engine", "trading platform", "order matching", "matching engine"),
}  # fmt: skip
"""Each application kind and the phrases that name it (matched on word boundaries)."""

_SIZES: dict[str, float] = {
    "tiny": 0.1, "small": 0.4, "medium": 1.0, "medium-sized": 1.0, "mid-sized": 1.0,
    "large": 4.0, "big": 4.0, "huge": 10.0, "enterprise": 20.0,
}  # fmt: skip

_PATTERNS = {
    "batch": Pattern.BATCH, "nightly": Pattern.BATCH, "overnight": Pattern.BATCH,
    "every night": Pattern.BATCH,
    "spiky": Pattern.BURSTY, "bursty": Pattern.BURSTY, "flash sale": Pattern.BURSTY,
    "flash sales": Pattern.BURSTY, "bursts": Pattern.BURSTY,
    "steady": Pattern.STEADY, "constant": Pattern.STEADY, "24/7": Pattern.STEADY,
    "round the clock": Pattern.STEADY, "around the clock": Pattern.STEADY,
    "business hours": Pattern.DIURNAL, "daytime": Pattern.DIURNAL, "diurnal": Pattern.DIURNAL,
}  # fmt: skip


def read_text(text: str) -> Reading:
    """What a description states (kind, figures, pattern), before any template applies."""
    return read(text, KINDS, {k: v.value for k, v in _PATTERNS.items()})


def parse_text(text: str) -> WorkloadSpec:
    """Map free text to a structured workload, or raise :class:`UnreadableWorkload`."""
    r = read_text(text)
    stated = r.model_dump(exclude={"kind", "pattern", "ignored", "concurrent", "users"})
    figures = {k: v for k, v in stated.items() if v is not None}
    if r.kind is None and not figures and r.users is None:
        raise refusal(text, r, ", ".join(sorted(KINDS)))
    base = _TEMPLATES[r.kind] if r.kind else WorkloadSpec(requests_per_s=100)
    t = " ".join(text.lower().split())
    scale = next((f for word, f in _SIZES.items() if re.search(rf"\b{word}\b", t)), 1.0)
    fields = base.model_dump()
    fields["requests_per_s"] = base.requests_per_s * scale
    fields["data_gb"] = base.data_gb * math.sqrt(scale)
    if r.users is not None and r.requests_per_s is None:
        per_user = PER_USER_RPS["concurrent" if r.concurrent else "population"]
        fields["requests_per_s"] = r.users * per_user
    fields.update(figures)
    fields["pipeline_stages"] = min(20, int(fields["pipeline_stages"]))
    fields["requests_per_s"] = min(fields["requests_per_s"], 1e9)
    if r.pattern is not None:
        fields["pattern"] = r.pattern
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
