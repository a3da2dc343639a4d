"""Negotiating an instance to agreement through the console's negotiation page."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import Console, shot, signed_in_http
from tests.helpers import eventually


async def test_negotiate_an_instance_to_agreement(console: Console) -> None:
    page = await console.signed_in()
    await page.get_by_role("link", name="Negotiations").click()
    await page.get_by_label("Name").fill("blog")
    await page.get_by_label("What it has to run").fill("a small blog with a postgres database")
    await page.get_by_role("button", name="Start negotiating").click()
    await page.wait_for_url(re.compile(r".*/console/negotiations/n-[0-9a-f]+$"))
    await expect(page.get_by_test_id("status")).to_have_text("awaiting_answer", timeout=60_000)
    proposals = page.locator("article.proposal")
    await expect(proposals.first).to_contain_text("/h")
    assert await proposals.count() >= 2  # side by side, each with its cost
    await shot(page, "negotiation-round-1")
    # a constraint first: a new round is solved under it
    await page.get_by_text("Add a constraint").click()
    await page.get_by_label("Constraint").select_option("min_vcpu")
    await page.get_by_label("Value").fill("4")
    await page.get_by_role("button", name="Add constraint").click()
    await expect(page.get_by_role("heading", name="Round 2")).to_be_visible(timeout=60_000)
    await expect(page.get_by_role("heading", name="Round history")).to_be_visible()
    await page.get_by_role("button", name=re.compile("^Accept")).first.click()
    await expect(page.get_by_test_id("status")).to_have_text("agreed", timeout=60_000)
    await expect(page.get_by_test_id("agreed")).to_contain_text("vCPU")
    await shot(page, "negotiation-agreed")


async def test_an_infeasible_round_is_explained_and_a_bad_answer_refused(console: Console) -> None:
    instances = console.app.state.services.instances
    nid = await instances.start(entity_id="acme", name="db", text="a small postgres database",
                                config={"provision": False})  # fmt: skip
    async with signed_in_http(console, console.acme) as http:
        rounds = f"/console/negotiations/{nid}/rounds"
        await eventually(lambda: http.get(rounds), lambda r: "awaiting_answer" in r.text, 60)
        bad = {"kind": "add_constraint", "round": "1", "constraint": "min_vcpu", "value": "-3"}
        r = await http.post(f"/console/negotiations/{nid}/answers", data=bad)
        assert r.status_code == 422
        assert "invalid answer: " in r.text
        assert "min_vcpu must be positive" in r.text
        cap = {"kind": "add_constraint", "round": "1", "constraint": "max_hourly",
               "value": "0.0001"}  # fmt: skip
        r = await http.post(f"/console/negotiations/{nid}/answers", data=cap)
        assert r.status_code == 200, r.text
        assert "Round 2" in r.text
        assert "No configuration fits" in r.text
        assert "max_hourly" in r.text  # the conflict or the relaxation names it
