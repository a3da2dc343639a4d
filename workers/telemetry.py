"""Metrics and traces of a worker process.

- **SDK metrics**: the Temporal SDK's runtime metrics (task latencies, slots, polls, cache,
  ...) on a Prometheus endpoint of their own (``PERSONAS_SDK_METRICS_PORT``), through
  :class:`temporalio.runtime.Runtime` telemetry.
- **Domain metrics** (``personas_*``, :mod:`prometheus_client`, ``PERSONAS_METRICS_PORT``):
  recorded from the worker side by an activity interceptor that reads each activity's input and
  result, and by a collector that counts app sessions by state in the store at scrape time.
  Workflow code records nothing, so it stays deterministic.
- **Traces**: :class:`temporalio.contrib.opentelemetry.TracingInterceptor` (workflow, signal,
  update and activity spans, propagated through headers; a workflow started by an untraced
  client gets spans of its own too) exported by OTLP when the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set; the exporter reads the
  other ``OTEL_*`` variables itself (protocol, headers, timeout; ``OTEL_SERVICE_NAME``,
  ``OTEL_RESOURCE_ATTRIBUTES``). ``OTEL_SDK_DISABLED=true`` turns tracing off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from temporalio import activity, client
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities import contracts as persona
from activities.app import contracts as app
from activities.app.tables import AppSessionRow
from activities.funding import contracts as funding
from activities.queues import SOLVER_ACTIVITIES
from personas.items import HIGH_PRIORITY_BP, to_bp
from runtime.settings import Settings

NAMESPACE = "personas"

INBOX_DEPTH = prometheus_client.Histogram(
    "personas_inbox_depth",
    "Items waiting in a persona's inbox when it takes one to work on",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
URGENT_LATENCY = prometheus_client.Histogram(
    "personas_urgent_latency_seconds",
    "Urgent items (priority > 0.8 or a mention): from sent to the start of their processing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ITEMS_PROCESSED = prometheus_client.Counter(
    "personas_items_processed", "Inbox items whose processing (a model call) started", ["kind"]
)
SHEDS = prometheus_client.Counter(
    "personas_sheds", "Items shed from a full inbox to the overflow record", ["reason"]
)
HOLDS = prometheus_client.Counter("personas_holds", "Ledger holds placed before model calls")
HELD = prometheus_client.Counter(
    "personas_held_micro_units", "Amount held by ledger holds (micro-units)"
)
SPEND = prometheus_client.Counter(
    "personas_spend_micro_units", "Amount charged by settled holds (micro-units)"
)
INSUFFICIENT = prometheus_client.Counter(
    "personas_holds_refused", "Holds refused for insufficient funds"
)
RECONCILER_REMOVED = prometheus_client.Counter(
    "personas_reconciler_removed", "Objects the app reconciler removed (no live session)"
)
SOLVER_SECONDS = prometheus_client.Histogram(
    "personas_solver_seconds",
    "Time of the solver and learning activities",
    ["activity"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ACTIVITY_FAILURES = prometheus_client.Counter(
    "personas_activity_failures", "Activity attempts that raised", ["activity"]
)


def _now() -> datetime:
    return datetime.now(UTC)


def record(name: str, args: tuple[Any, ...], result: Any) -> None:
    """Record the domain metrics of one finished activity ``name`` (its ``args`` and
    ``result``)."""
    arg = args[0] if args else None
    if name == persona.RECORD_SHED and isinstance(arg, persona.ShedBatch):
        for _item_id, reason, _bp, _item in arg.rows:
            SHEDS.labels(reason=reason[:40]).inc()
    elif name == funding.FUNDING_RESERVE and isinstance(result, funding.HoldResult):
        HOLDS.inc()
        HELD.inc(max(0, result.amount))
    elif name == funding.FUNDING_SETTLE and isinstance(result, funding.HoldResult):
        SPEND.inc(max(0, result.charged))
    elif name == app.RECONCILE and isinstance(result, app.ReconcileReport):
        RECONCILER_REMOVED.inc(len(result.removed))


def started(name: str, args: tuple[Any, ...]) -> None:
    """Record what is known when activity ``name`` starts (an item's wait, its inbox)."""
    arg = args[0] if args else None
    if name == persona.THINK and isinstance(arg, persona.ThinkRequest):
        item = arg.item
        ITEMS_PROCESSED.labels(kind=item.kind).inc()
        if arg.inbox_depth is not None:
            INBOX_DEPTH.observe(arg.inbox_depth)
        urgent = to_bp(item.priority) > HIGH_PRIORITY_BP or arg.persona_id in item.mentions
        if urgent and activity.info().attempt == 1:
            URGENT_LATENCY.observe(max(0.0, (_now() - item.sent_at).total_seconds()))


class _MetricsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        args = tuple(input.args)
        started(name, args)
        begun = time.perf_counter()
        try:
            result = await super().execute_activity(input)
        except ApplicationError as err:
            if name == funding.FUNDING_RESERVE and err.type == "InsufficientFunds":
                INSUFFICIENT.inc()
            else:
                ACTIVITY_FAILURES.labels(activity=name).inc()
            raise
        except Exception:
            ACTIVITY_FAILURES.labels(activity=name).inc()
            raise
        finally:
            if name in SOLVER_ACTIVITIES:
                SOLVER_SECONDS.labels(activity=name).observe(time.perf_counter() - begun)
        record(name, args, result)
        return result


class MetricsInterceptor(Interceptor):
    """Records the domain metrics of every activity a worker runs."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MetricsInbound(next)


class SessionsByState(Collector):
    """``personas_app_sessions{state}``: app sessions by state, counted in the store when
    scraped (the store is the record every worker shares)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "personas_app_sessions", "App sessions by state (from the store)", labels=["state"]
        )
        query = select(AppSessionRow.state, func.count()).group_by(AppSessionRow.state)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except Exception:  # a scrape never fails the worker
            rows = []
        for state, count in rows:
            family.add_metric([str(state)], float(count))
        yield family


_sessions: SessionsByState | None = None


def serve_domain_metrics(settings: Settings, engine: Engine) -> WSGIServer | None:
    """Serve ``personas_*`` (and the process's own) on ``PERSONAS_METRICS_PORT``; the server
    (``shutdown()`` it when done), or None when turned off. Registers the sessions collector for
    ``engine`` once."""
    global _sessions
    if _sessions is None:
        _sessions = SessionsByState(engine)
        prometheus_client.REGISTRY.register(_sessions)
    else:
        _sessions.engine = engine
    if settings.metrics_port == 0:
        return None
    server, _thread = prometheus_client.start_http_server(
        settings.metrics_port, addr=settings.metrics_host
    )
    return server


#: Bucket bounds (ms) of the SDK's workflow task latency histograms: the defaults stop at
#: 1 s, and an operator must see tasks nearing the 10 s workflow task timeout (over 5 s).
WORKFLOW_TASK_BUCKETS_MS = (1, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
WORKFLOW_TASK_HISTOGRAMS = (
    "workflow_task_execution_latency",
    "workflow_task_replay_latency",
    "workflow_task_schedule_to_start_latency",
)


def sdk_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics for Prometheus on
    ``PERSONAS_SDK_METRICS_PORT`` (None, the default runtime, when it is 0)."""
    if settings.sdk_metrics_port == 0:
        return None
    bind = f"{settings.metrics_host}:{settings.sdk_metrics_port}"
    buckets = {name: WORKFLOW_TASK_BUCKETS_MS for name in WORKFLOW_TASK_HISTOGRAMS}
    config = PrometheusConfig(bind_address=bind, histogram_bucket_overrides=buckets)
    return Runtime(telemetry=TelemetryConfig(metrics=config))


def tracing_interceptors(service: str) -> list[client.Interceptor]:
    """``[TracingInterceptor()]`` exporting spans by OTLP when an OTLP endpoint is set in the
    environment (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
    else ``[]``. ``service`` names the process unless ``OTEL_SERVICE_NAME`` does."""
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return []
    if not (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return []
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    protocol = env.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
    exporter = HttpSpanExporter() if protocol.startswith("http") else OTLPSpanExporter()
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # Lives are started by the CLI, the API or any client, most of them untraced: without
    # ``always_create_workflow_spans`` a workflow with no traced starter has no spans at all.
    return [TracingInterceptor(trace.get_tracer("personas"), always_create_workflow_spans=True)]
