"""The console's funding page: an entity's budget, the audit verified for administrators, and
the rules editor showing why a document is refused."""

from __future__ import annotations

import json
import uuid

from tests.browser.conftest import Console, shot, signed_in_http
from tests.workflow.app_support import admin_secret


async def test_funding_page_balances_audit_and_rules(console: Console) -> None:
    services = console.app.state.services
    await services.funding.fund_entity(uuid.uuid4().hex, "acme", "12.5", "test")
    async with signed_in_http(console, console.acme) as http:
        r = await http.get("/console/funding")
        assert r.status_code == 200
        assert 'data-testid="budget">12.500000' in r.text.replace("\n", "")
        assert "Save rules" not in r.text  # an entity's key edits no rules
        r = await http.post("/console/funding/rules", data={"document": "{}", "admin_secret": "x"})
        assert r.status_code == 403
    admin = services.keys.create(None, admin=True).secret
    async with signed_in_http(console, admin) as http:
        r = await http.get("/console/funding")
        assert "Chain verifies" in r.text
        bad = {"document": json.dumps({"rules": [{"nonsense": True}]}),
               "admin_secret": admin_secret(console.store)}  # fmt: skip
        r = await http.post("/console/funding/rules", data=bad)
        assert r.status_code == 422
        assert 'role="alert"' in r.text
        assert "nonsense" in r.text
    page = await console.signed_in(admin)
    await page.goto(f"{console.base}/console/funding")
    await shot(page, "funding-admin")
