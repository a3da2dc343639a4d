"""The URL executor against a real loopback HTTP server: success, failure, hang, refusal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activities.fleet.contracts import ExecutorSpec
from activities.fleet.executors import ExecutorFailed, call_url
from personas.fleet.config import FleetConfig

received: list[bytes] = []
release = threading.Event()


class Handler(BaseHTTPRequestHandler):
    """/ok stores the body; /fail answers 500; /hang waits until released."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/hang":
            release.wait(10)
        if self.path == "/ok":
            received.append(body)
        self.send_response(200 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    release.set()
    httpd.shutdown()
    httpd.server_close()


async def test_url_executor(server: str) -> None:
    config = FleetConfig(replicas=3, cache="lru")
    await call_url(ExecutorSpec(kind="url", url=f"{server}/ok"), config)
    assert FleetConfig.model_validate_json(received[-1]) == config
    with pytest.raises(ExecutorFailed, match="url answered 500"):
        await call_url(ExecutorSpec(kind="url", url=f"{server}/fail"), config)
    with pytest.raises(ExecutorFailed, match=r"url timed out after 0\.3s"):
        await call_url(ExecutorSpec(kind="url", url=f"{server}/hang", timeout_s=0.3), config)
    with pytest.raises(ExecutorFailed, match=r"127\.0\.0\.1 only"):
        await call_url(ExecutorSpec(kind="url", url="http://example.com/x"), config)
