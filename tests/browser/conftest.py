"""The console in a real browser: Debian's Chromium driven by Playwright (no browser download),
against the API process's app served by uvicorn on 127.0.0.1, a real Temporal dev server with
the project's workers and a real SQLite store.

Screenshots of every page a test visits go to ``var/screenshots/`` (or
``PERSONAS_SCREENSHOTS``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from activities.app.settings import AppSettings
from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from api.app import create_app
from runtime.settings import Settings
from tests.helpers import eventually
from tests.workflow.app_support import app_settings, end_sessions
from tests.workflow.conftest import end_lives
from workers.main import build_worker

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("PERSONAS_SCREENSHOTS", "var/screenshots"))


@dataclass
class Console:
    """The served console: its address, a signed-out browser and the keys to sign in with."""

    base: str
    browser: Browser
    store: Store
    acme: str
    app: Any
    settings: AppSettings
    sessions: set[str] = field(default_factory=set)

    async def signed_in(self, secret: str | None = None) -> Page:
        """A new page (a narrow-ish window) signed in with acme's key (or ``secret``)."""
        context = await self.browser.new_context(viewport={"width": 820, "height": 1100})
        page = await context.new_page()
        page.set_default_timeout(30_000)
        await page.goto(f"{self.base}/console/login")
        await page.get_by_label("API key of your entity").fill(secret or self.acme)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/console/personas")
        return page


@asynccontextmanager
async def signed_in_http(console: Console, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the served console, signed in with ``secret``."""
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as http:
        r = await http.post("/console/login", data={"api_key": secret})
        assert r.status_code == 303, r.text
        yield http


async def shot(page: Page, name: str) -> Path:
    """A full-page screenshot named ``name`` (in SHOTS, which the fixture makes)."""
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def _started(server: uvicorn.Server) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return bool(server.started)

    return probe


@pytest.fixture(scope="session")
def shots() -> Path:
    """The screenshots' folder, made."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="module")
async def console(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory, shots: Path
) -> AsyncIterator[Console]:
    """The app over a worker on its own queue, served on a free loopback port."""
    tmp = tmp_path_factory.mktemp("console")
    store = Store(f"sqlite:///{tmp / 'console.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme", ["repo:web", "repo:api", "docs"])
    store.upsert_entity("globex", "Globex", ["repo:web"])
    queue = f"tq-console-{uuid.uuid4().hex[:8]}"
    settings = app_settings(tmp)
    provider = OfflineDeterministicProvider()
    worker = build_worker(dev_env.client, store, provider, queue, app_settings=settings)
    app = create_app(Settings(), dev_env.client, store, task_queue=queue, app_settings=settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    async with worker, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            await eventually(_started(server), bool)
            keys = app.state.services.keys
            served = Console(f"http://127.0.0.1:{port}", browser, store,
                             keys.create("acme").secret, app, settings)  # fmt: skip
            yield served
        finally:
            await end_sessions(dev_env.client, store, settings, served.sessions)
            await browser.close()
            server.should_exit = True
            await serving
            await end_lives(dev_env.client, store)
    sock.close()
    store.dispose()
