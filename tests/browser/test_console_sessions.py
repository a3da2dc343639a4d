"""Requesting an app session through the console, running a command in it, releasing it."""

from __future__ import annotations

import asyncio
import re
import uuid

from playwright.async_api import expect

from clients.app_api import app_persona
from tests.browser.conftest import Console, shot
from tests.workflow.app_support import code_reviewer


async def test_request_run_and_release_an_app_session(console: Console) -> None:
    apps = console.app.state.services.apps
    persona_id = f"cr-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(apps.repo.save, app_persona(**code_reviewer(persona_id)), "acme", "t")
    await asyncio.to_thread(apps.repo.grant, persona_id, "alice")
    token = apps.broker.issue("alice")
    page = await console.signed_in()
    await page.get_by_role("link", name="App sessions").click()
    await page.get_by_label("App persona", exact=True).fill(persona_id)
    await page.get_by_label("User's token").fill(token)
    await page.get_by_role("button", name="Request session").click()
    await page.wait_for_url(re.compile(r".*/console/app-sessions/s-[0-9a-f]+$"))
    console.sessions.add(page.url.rsplit("/", 1)[1])
    state = page.get_by_test_id("session_state")
    settled = re.compile(r"^(running|failed|released|refused|expired)$")
    await expect(state).to_have_text(settled, timeout=180_000)
    assert await state.text_content() == "running", await page.locator("dl.grid").text_content()
    await page.get_by_label("Command", exact=True).fill("jq --version")
    await page.locator("#r_token").fill(token)
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_test_id("exit_code")).to_have_text("0", timeout=60_000)
    await expect(page.get_by_test_id("output")).to_contain_text("jq")
    await shot(page, "session-running")
    await page.locator("#x_token").fill(token)
    await page.get_by_role("button", name="Release session").click()
    await expect(page.get_by_test_id("session_state")).to_have_text("released", timeout=60_000)
    await shot(page, "session-released")
