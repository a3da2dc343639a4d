"""A real worker process's traces: ``personas-worker`` on the dev server, configured by the
standard ``OTEL_*`` variables only, exports by OTLP/HTTP to a receiver in this test, which
decodes the protobuf requests; a persona's work arrives as workflow and activity spans of the
configured service."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities import contracts as persona
from activities.store import Store
from clients.api import PersonaClient
from tests.helpers import end_lives, eventually, free_port, profile


@dataclass
class Received:
    """Spans the receiver decoded: (service name, span name) pairs."""

    spans: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self, service: str) -> set[str]:
        """The span names received from ``service``."""
        with self.lock:
            return {name for svc, name in self.spans if svc == service}


def _handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class OtlpTraces(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = ExportTraceServiceRequest.FromString(body)
            with received.lock:
                for resource_spans in request.resource_spans:
                    attrs = {
                        a.key: a.value.string_value for a in resource_spans.resource.attributes
                    }
                    for scope in resource_spans.scope_spans:
                        received.spans += [
                            (attrs.get("service.name", ""), s.name) for s in scope.spans
                        ]
            self.send_response(200 if self.path == "/v1/traces" else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return OtlpTraces


@pytest.fixture
def collector() -> Iterator[tuple[int, Received]]:
    received = Received()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


async def test_a_persona_s_work_is_traced_by_otlp(
    dev_env: WorkflowEnvironment, collector: tuple[int, Received], tmp_path: Path
) -> None:
    port, received = collector
    queue = f"traces-{uuid.uuid4().hex[:8]}"
    service = f"worker-{queue}"
    database = f"sqlite:///{tmp_path / 'traces.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "OTEL_"))}
    env.update(
        {
            "PERSONAS_SETTINGS_FILE": "/nonexistent/personas.env",
            "PERSONAS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "PERSONAS_TASK_QUEUE": queue,
            "PERSONAS_DATABASE_URL": database,
            "PERSONAS_STATE_DIR": str(tmp_path),
            "PERSONAS_DEPLOYMENT_ID": queue,
            "PERSONAS_APP_DEV_MODE": "true",
            "PERSONAS_SDK_METRICS_PORT": "0",
            "PERSONAS_METRICS_PORT": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": service,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    store = Store(database)
    store.migrate()  # before the worker, which migrates too: never both at once
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited on)
        [sys.executable, "-m", "workers.main", "--role", "all"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        personas = PersonaClient(dev_env.client, store, queue)
        store.upsert_entity("acme", "Acme", ["repo:web", "docs"])
        pid = (await personas.create_persona(profile(), created_by="t")).persona_id
        await personas.post_to_persona(pid, "hello", "bob")

        async def processed() -> int:
            try:
                return (await personas.view(pid)).stats.processed
            except RPCError:  # a query before the worker process polls times out
                return -1

        await eventually(processed, lambda n: n == 1, timeout_s=180)

        async def spans() -> set[str]:
            return received.names(service)

        names = await eventually(
            spans,
            lambda got: {"RunWorkflow:PersonaLife", f"RunActivity:{persona.THINK}"} <= got,
            timeout_s=60,
        )
        assert any(name.startswith("HandleSignal:") for name in names), names
    finally:
        with contextlib.suppress(Exception):
            await end_lives(dev_env.client, store)
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        if worker.poll() is None:
            worker.kill()
        log.close()
        store.dispose()
    assert not received.names("personas-worker-all"), "OTEL_SERVICE_NAME was not used"
