"""The funding commands and client on the dev server: the flow, bad input, key rotation."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.funding.ledger import entity_budget, persona_balance
from activities.store import Store
from clients.api import PersonaClient, PersonaError
from clients.cli import _Context, _describe
from clients.funding_api import FundingClient, rotation_schedule_id
from clients.funding_cli import add_funding_commands
from runtime.settings import Settings
from tests.helpers import CliResult, eventually, profile
from tests.workflow.funding_fixtures import FundingHarness, harness


@pytest.fixture
async def h(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[FundingHarness]:
    """A worker with the funding lists on the dev server, over a SQLite store."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.upsert_entity("acme", "Acme", ["repo:web"])
    store.upsert_entity("other", "Other", ["repo:web"])
    async for value in harness(dev_env.client, store):
        yield value
    store.dispose()


class FundingCli:
    """``personas funding ...`` run in-process the way ``clients.cli.run_async`` runs it."""

    def __init__(self, h: FundingHarness, capsys: pytest.CaptureFixture[str]) -> None:
        self.h = h
        self.capsys = capsys
        self.settings = Settings(
            temporal_address=h.client.service_client.config.target_host,
            task_queue=h.queue,
            database_url=h.store.url,
        )
        parser = argparse.ArgumentParser(prog="personas")
        parser.add_argument("--json", action="store_true")
        add_funding_commands(parser.add_subparsers(dest="command", required=True))
        self.parser = parser

    async def _client(self, _settings: Settings) -> Client:
        return self.h.client

    async def __call__(self, *argv: str) -> CliResult:
        self.capsys.readouterr()
        args = self.parser.parse_args(list(argv))
        ctx = _Context(self.settings, self.h.store, self._client, as_json=bool(args.json))
        code = 0
        try:
            await args.handler(ctx, args)
        except Exception as exc:
            print(f"error: {_describe(exc, self.settings)}", file=sys.stderr)
            code = 2
        out, printed = self.capsys.readouterr()
        return CliResult(code, out, printed)

    async def ok(self, *argv: str) -> CliResult:
        result = await self(*argv)
        assert result.code == 0, result.err
        return result

    async def fails(self, *argv: str) -> str:
        result = await self(*argv)
        assert result.code == 2, result.out
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        return lines[0]


@pytest.fixture
def cli(h: FundingHarness, capsys: pytest.CaptureFixture[str]) -> FundingCli:
    """The funding CLI on the harness."""
    return FundingCli(h, capsys)


async def _sunk(h: FundingHarness) -> int:
    return len(h.keys)


async def _list(client: Client, query: str) -> list[str]:
    return [wf.id async for wf in client.list_workflows(query)]


async def _persona(h: FundingHarness, name: str = "Ada", entity: str = "acme") -> str:
    record = await PersonaClient(h.client, h.store, h.queue).create_persona(
        profile(name, entity_id=entity, funding_limit=Decimal("5")), created_by="test"
    )
    return record.persona_id


async def test_funding_flow_through_the_cli(
    cli: FundingCli, h: FundingHarness, tmp_path: Path
) -> None:
    pid = await _persona(h)
    await cli.ok("funding", "budget", "acme", "3", "--key", "b1")
    await cli.ok("funding", "budget", "acme", "3", "--key", "b1")  # idempotent
    assert h.funding.ledger.balance(entity_budget("acme")) == 3_000_000
    started = await cli.ok("--json", "funding", "start", pid, "--allocation", "2")
    assert started.json()["workflow_id"] == f"funding-{pid}"
    h.started.append(f"funding-{pid}")
    shown = await eventually(
        lambda: cli.ok("--json", "funding", "show", pid), lambda r: r.json()["cycle"] >= 1
    )
    assert shown.json()["balance"] == 2_000_000
    assert shown.json()["status"] == "funded"
    query = f"PersonaKind = 'funding' AND PersonaId = '{pid}' AND PersonaStatus = 'funded'"
    listed = await eventually(lambda: _list(h.client, query), lambda ids: ids == [f"funding-{pid}"])
    assert listed == [f"funding-{pid}"]
    assert (await cli.ok("funding", "balance", "Ada")).out.strip() == "2.000000"
    api = FundingClient(h.client, h.store, h.queue)
    try:
        with pytest.raises(PersonaError, match=r"exceeds the funding limit 5\.000000"):
            await api.set_allocation(pid, "6")
        with pytest.raises(PersonaError, match="negative"):
            await api.set_allocation(pid, "-1")
        assert await api.set_allocation(pid, "3") == 3_000_000
        view = await eventually(lambda: api.view(pid), lambda v: v.cycle >= 2)
        assert view.allocation == 3_000_000
        assert view.balance == 2_000_000  # above the threshold (50 % of 3): nothing drawn
    finally:
        api.close()
    await cli.ok("funding", "source", "acme", "gift", "--deposit", "1", "--key", "g1")
    await cli.ok("funding", "contribute", "gift", pid, "0.5", "--key", "c1", "--by", "bob")
    assert h.funding.ledger.balance(persona_balance(pid)) == 2_500_000
    rules = (await cli.ok("--json", "funding", "rules")).json()
    assert rules["rules"][0]["adjust_percent"] == 10
    root = (await cli.ok("--json", "funding", "admin-create", "root")).json()["secret"]
    rules["rules"][0]["adjust_percent"] = 12
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules))
    refused = await cli.fails("funding", "rules", "--set", str(rules_file))
    assert "an administrator's secret is required" in refused
    await cli.ok("funding", "rules", "--set", str(rules_file), "--admin-key", root)
    assert (await cli.ok("--json", "funding", "rules")).json()["rules"][0]["adjust_percent"] == 12
    audit = (await cli.ok("--json", "funding", "audit", "--persona", pid)).json()
    assert [e["kind"] for e in audit] == ["funding.top_up", "funding.contribution"]
    assert (await cli.ok("funding", "audit-verify")).out.strip().endswith(", intact")
    issued = (await cli.ok("--json", "funding", "key-issue", "Ada")).json()
    assert (await cli.ok("funding", "key-verify", issued["secret"])).out.strip().endswith(pid)
    await cli.ok("funding", "key-revoke", issued["key_id"])
    refused = await cli.fails("funding", "key-verify", issued["secret"])
    assert refused == f"error: API key {issued['key_id']} was revoked"
    assert (await cli.ok("funding", "usage", "--persona", pid)).out.strip() == "no usage"


async def test_bad_input_is_refused_and_nothing_is_posted(
    cli: FundingCli, h: FundingHarness, tmp_path: Path
) -> None:
    pid = await _persona(h)
    other = await _persona(h, "Bob", "other")
    await cli.ok("funding", "budget", "acme", "10", "--key", "seed")
    await cli.ok("funding", "source", "acme", "gift", "--deposit", "1", "--key", "g")
    before = h.funding.ledger.count_postings()
    bad_rules = tmp_path / "rules.json"
    bad_rules.write_text('{"rules": [{"name": "x", "conditions": [], "adjust_percent": 5}]}')
    root = (await cli.ok("--json", "funding", "admin-create", "root")).json()["secret"]
    cases = [
        (("funding", "budget", "acme", "-5"), "amount -5 is negative"),
        (("funding", "budget", "acme", "ten"), "amount 'ten' is not a number"),
        (("funding", "top-up", pid, "1", "--from", "nowhere"), "unknown account nowhere"),
        (
            ("funding", "top-up", pid, "6", "--from", entity_budget("acme")),
            "beyond the funding limit of 5.000000",
        ),
        (("funding", "contribute", "gift", other, "1"), "belongs to entity acme"),
        (("funding", "contribute", "gift", pid, "2"), "insufficient funds in source:gift"),
        (
            ("funding", "rules", "--set", str(bad_rules), "--admin-key", root),
            "invalid rules document",
        ),
        (
            ("funding", "rules", "--set", str(bad_rules), "--admin-key", "adm_forged"),
            "unknown administrator secret",
        ),
        (("funding", "admin-create", "eve"), "an administrator's secret is required"),
        (("funding", "key-verify", "pk_0_forged"), "unknown API key"),
        (("funding", "start", pid, "--allocation", "6"), "allocation exceeds the funding limit"),
    ]
    for argv, message in cases:
        line = await cli.fails(*argv)
        assert line.startswith("error: ")
        assert message in line, line
    assert h.funding.ledger.count_postings() == before
    assert (await cli.ok("--json", "funding", "rules")).json()["version"] == 1


async def test_keys_rotate_on_a_schedule_with_an_overlap(h: FundingHarness) -> None:
    pid = await _persona(h)
    api = FundingClient(h.client, h.store, h.queue)
    try:
        first = await api.issue_key(pid, "test")
        schedule = await api.schedule_rotation(pid, timedelta(days=30), timedelta(hours=1))
        try:
            assert schedule.id == rotation_schedule_id(pid)
            await schedule.trigger()
            await eventually(lambda: _sunk(h), lambda n: n == 1)  # the secret, shown once
            assert len(await api.list_keys(pid)) == 2
            rotated = h.keys[0]
            assert await api.verify_key(rotated.secret) == pid
            assert await api.verify_key(first.secret) == pid  # within the overlap window
            old = next(k for k in await api.list_keys(pid) if k.key_id == first.key_id)
            assert old.expires_at is not None
            with pytest.raises(Exception, match="shorter than the rotation interval"):
                await api.schedule_rotation(pid, timedelta(hours=1), timedelta(hours=2))
        finally:
            await schedule.delete()
    finally:
        api.close()


async def test_rules_that_do_not_mean_one_thing_are_refused_in_one_line(
    cli: FundingCli, h: FundingHarness, tmp_path: Path
) -> None:
    pid = await _persona(h)
    root = (await cli.ok("--json", "funding", "admin-create", "root")).json()["secret"]
    accurate: dict[str, Any] = {"metric": "accuracy", "op": ">", "threshold": 0.9}
    up: dict[str, Any] = {"name": "up", "conditions": [accurate], "adjust_percent": 10}
    down = {**up, "name": "down", "adjust_percent": -20}
    cases = [
        ({"rules": [up, down]}, "rules up and down can both match"),
        ({"rules": [{**up, "conditions": [{**accurate, "metric": "acuracy"}]}]},
         "rule up: condition 1: unknown metric 'acuracy'; did you mean accuracy?"),
        ({"rules": [{**up, "adjust_percent": 1000}], "caps": {"max_change_percent": 1000}},
         "rule up: adjustment +1000% exceeds the cap of 50%"),
    ]  # fmt: skip
    rules_file = tmp_path / "rules.json"
    for document, reason in cases:
        rules_file.write_text(json.dumps(document))
        line = await cli.fails("funding", "rules", "--set", str(rules_file), "--admin-key", root)
        assert line.startswith("error: invalid rules document: ")
        assert reason in line, line
    assert (await cli.ok("--json", "funding", "rules")).json()["precedence"] is None
    rules_file.write_text(json.dumps({"rules": [up, down], "precedence": ["down", "up"]}))
    await cli.ok("funding", "rules", "--set", str(rules_file), "--admin-key", root)
    shown = await cli.ok("funding", "rules")
    assert json.loads(shown.out)["precedence"] == ["down", "up"]
    await cli.ok("funding", "source", "acme", "gift", "--deposit", "10", "--key", "g")
    await cli.ok("funding", "contribute", "gift", pid, "4", "--key", "c1")
    line = await cli.fails("funding", "contribute", "gift", pid, "2", "--key", "c2")
    assert line == (
        f"error: contribution of 2.000000 would bring the balance of persona {pid} to "
        "6.000000, beyond its funding limit of 5.000000"
    )
