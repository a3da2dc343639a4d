"""Creating an AI persona in the console's form, seeing it live, and talking to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Page, expect

from activities.agent.store import AgentStore, ToolAuditRecord
from tests.browser.conftest import Console, shot

PERSONA_PAGE = re.compile(r".*/console/personas/[0-9a-f-]{36}$")


async def create_in_form(page: Page, name: str, specialization: str) -> str:
    """Create a persona of acme with the console's form; its id (from its page's address)."""
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Base model").fill("llama3")
    await page.get_by_label("Specialization").fill(specialization)
    await page.get_by_role("button", name="Create persona").click()
    await page.wait_for_url(PERSONA_PAGE)
    return page.url.rsplit("/", 1)[1]


async def test_create_a_persona_in_the_form_and_see_it_live(console: Console) -> None:
    page = await console.signed_in()
    await page.get_by_label("Name", exact=True).fill("Ada")
    await page.get_by_label("Base model").fill("llama3")
    await page.get_by_label("Specialization").fill("python code review")
    await page.get_by_label("Access scope").fill("repo:web, repo:secret")
    await page.get_by_label("Activation triggers", exact=True).fill("shift_start")
    check = page.locator("#form_check")
    await expect(check).to_contain_text("repo:secret")  # inline, before submitting
    await shot(page, "persona-create-invalid")
    await page.get_by_label("Access scope").fill("repo:web")
    await expect(check).to_contain_text("Looks good")
    await page.get_by_role("button", name="Create persona").click()
    await page.wait_for_url(PERSONA_PAGE)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Ada")
    await expect(page.get_by_test_id("mood")).to_have_text(re.compile(r"\w+"))
    await expect(page.get_by_test_id("life")).to_have_text("live")
    await expect(page.get_by_role("link", name=re.compile("Temporal web UI"))).to_have_attribute(
        "href", re.compile(r"/workflows/persona-")
    )
    await shot(page, "persona-detail")


async def test_post_to_a_persona_and_see_its_reply(console: Console) -> None:
    page = await console.signed_in()
    await create_in_form(page, "Bea", "release notes")
    message = page.get_by_label("Message", exact=True)
    await message.fill("Please summarise the release notes for 2.0")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#msg_result")).to_contain_text("delivered as item")
    reply = page.locator(".replies li").first
    await expect(reply).to_contain_text("tokens", timeout=60_000)
    await expect(reply.locator(".reply")).not_to_be_empty()
    await shot(page, "persona-reply")


async def test_a_reply_shows_its_tool_trace(console: Console) -> None:
    page = await console.signed_in()
    pid = await create_in_form(page, "Tess", "support")
    # What an agent turn records: its answer, then one allowed and one refused tool call.
    console.store.record_output(pid, "turn-1", "respond", "Refunds take 5 days.", 40, 12)
    agents = AgentStore(console.store.engine)
    for step, (resource, allowed, reason) in enumerate(
        (("handbook", True, "ok"), ("vault", False, "vault is not in the persona's scope")), 1
    ):
        agents.audit_tool(
            ToolAuditRecord(
                persona_id=pid, item_id="turn-1", step=step, tool="search_files",
                resource=resource, args_digest="d" * 64, allowed=allowed, reason=reason,
                at=datetime.now(UTC), cpu_ms=7 * allowed, bytes_read=512 * allowed,
            )
        )  # fmt: skip
    reply = page.locator(".replies > li").filter(has_text="Refunds take 5 days.")
    await expect(reply).to_contain_text("40/12 tokens", timeout=30_000)
    calls = reply.locator(".trace li")
    await expect(calls).to_have_count(2)
    await expect(calls.nth(0)).to_contain_text("search_files on handbook · allowed")
    await expect(calls.nth(0)).to_contain_text("7 ms CPU, 512 B read")
    await expect(calls.nth(1)).to_contain_text("vault · refused: vault is not in the persona")
    await shot(page, "persona-tool-trace")
