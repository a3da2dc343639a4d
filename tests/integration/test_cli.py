"""The ``personas`` command line, run in-process against the dev server and a real worker."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.providers import OfflineDeterministicProvider
from activities.store import Store
from clients.cli import run_async
from personas.parts import BlobRef, JsonPart, TextPart
from runtime.servers import temporal_cli_path
from runtime.settings import Settings
from tests.helpers import CliResult, eventually
from workers.main import build_worker

UNREACHABLE = "is the dev server running? ('personas server' starts one, so does personas-demo)"


class Cli:
    """Runs ``personas ARGS...`` in-process and captures what it printed."""

    def __init__(
        self, settings: Settings, client: Client, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.settings = settings
        self.client = client
        self.capsys = capsys

    async def _client(self, _settings: Settings) -> Client:
        return self.client

    async def __call__(self, *argv: str) -> CliResult:
        self.capsys.readouterr()
        code = await run_async(list(argv), settings=self.settings, client_factory=self._client)
        out, err = self.capsys.readouterr()
        return CliResult(code, out, err)

    async def ok(self, *argv: str) -> CliResult:
        result = await self(*argv)
        assert result.code == 0, result.err
        assert result.err == ""
        return result

    async def fails(self, *argv: str) -> str:
        """Run a command that must be refused; returns its one-line message."""
        result = await self(*argv)
        assert result.code == 2, result.out
        assert result.out == ""
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("error: ")
        assert "Traceback" not in result.err
        return lines[0]

    async def create(self, name: str, *extra: str, entity: str = "acme") -> str:
        result = await self.ok(
            "create", "--entity", entity, "--name", name, "--model", "llama3",
            "--specialization", "python code review", "--scope", "repo:web",
            "--activate", "shift_start", "--deactivate", "shift_end", *extra,
        )  # fmt: skip
        persona_id = result.out.strip()
        uuid.UUID(persona_id)
        return persona_id

    async def state(self, persona: str) -> dict[str, Any]:
        result: dict[str, Any] = (await self.ok("--json", "state", persona)).json()
        return result


@pytest.fixture
def settings(tmp_path: Path, dev_env: WorkflowEnvironment) -> Settings:
    """Settings of one test: its own SQLite file and task queue, the dev server's address."""
    return Settings(
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_namespace=dev_env.client.namespace,
        task_queue=f"cli-{uuid.uuid4().hex[:8]}",
        state_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'cli' / 'store.db'}",
    )


@pytest.fixture
async def cli(
    dev_env: WorkflowEnvironment, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Cli]:
    """The CLI with a worker serving its task queue on the same store file."""
    runner = Cli(settings, dev_env.client, capsys)
    await runner.ok("entity", "add", "acme", "--name", "Acme", "--resource", "repo:web")
    store = Store(settings.resolved_database_url())
    try:
        worker = build_worker(
            dev_env.client, store, OfflineDeterministicProvider(), settings.task_queue
        )
        async with worker:
            yield runner
    finally:
        store.dispose()


async def test_entity_add_create_list_show(cli: Cli) -> None:
    added = await cli.ok(
        "entity", "add", "acme", "--name", "Acme Corp", "--resource", "docs", "--resource", "ci"
    )
    assert added.out.strip() == "entity acme (Acme Corp) may grant: ci, docs, repo:web"
    ada = await cli.create("Ada", "--scope", "docs", "--expertise", "python", "review")

    listed = (await cli.ok("list")).out.splitlines()
    assert listed[0].split() == ["id", "name", "entity", "version", "status"]
    assert listed[1].split() == [ada, "Ada", "acme", "1", "created"]
    assert (await cli.ok("list", "--entity", "other")).out.strip() == "no personas"

    for ref in (ada, "Ada", "ada"):
        shown = (await cli.ok("show", ref)).json()
        assert shown["persona_id"] == ada
        assert shown["version"] == 1
        profile = shown["body"]["profile"]
        assert profile["access_scope"] == ["repo:web", "docs"]
        assert profile["expertise"] == ["python", "review"]
        assert profile["activation_triggers"] == ["shift_start"]


async def test_create_with_refused_scope_names_every_resource(cli: Cli) -> None:
    message = await cli.fails(
        "create", "--entity", "acme", "--name", "Eve", "--model", "m", "--specialization", "s",
        "--scope", "repo:web", "repo:secret", "--scope", "payroll",
    )  # fmt: skip
    assert message == (
        "error: access scope refused: entity acme does not permit payroll, repo:secret"
    )
    assert (await cli.ok("list")).out.strip() == "no personas"


async def test_create_refuses_bad_input_in_one_line(cli: Cli) -> None:
    message = await cli.fails(
        "create", "--entity", "acme", "--name", "9lives", "--model", "m",
        "--specialization", "s", "--funding-limit", "lots",
    )  # fmt: skip
    assert message.startswith("error: invalid persona: ")
    assert "name" in message
    assert "funding_limit" in message
    assert (
        await cli.fails(
            "create", "--entity", "nobody", "--name", "Ada", "--model", "m", "--specialization", "s"
        )
        == "error: unknown entity nobody"
    )


async def test_post_to_unknown_persona_is_refused(cli: Cli) -> None:
    message = await cli.fails("post", "ghost", "hello")
    assert message == "error: unknown persona 'ghost': no persona has this id or name"


async def test_post_with_priority_out_of_range_is_refused(cli: Cli) -> None:
    await cli.create("Ada")
    message = await cli.fails("post", "Ada", "hello", "--priority", "1.5")
    assert message.startswith("error: invalid message: ")
    assert "priority" in message
    assert "less than or equal to 1" in message


async def test_post_content_parts_of_a_kind(cli: Cli, settings: Settings) -> None:
    await cli.create("Ada")
    assert await cli.fails("post", "Ada") == "error: nothing to post: give TEXT, --data or --blob"
    message = await cli.fails("post", "Ada", "hello", "--kind", "chta")
    assert "unknown item kind 'chta'; known kinds: chat, game_state, vision_frame" in message
    message = await cli.fails("post", "Ada", "--kind", "vision_frame", "--data", "{}")
    assert message == "error: invalid message: a vision_frame item takes blob, text parts, not json"
    state = await cli.ok("--json", "post", "Ada", "--kind", "game_state", "--data", '{"turn": "x"}')
    frame = await cli.ok(
        "--json", "post", "Ada", "the door", "--kind", "vision_frame",
        "--blob", "image/png=https://cams.example/f1.png",
    )  # fmt: skip
    assert (state.json()["kind"], frame.json()["kind"]) == ("game_state", "vision_frame")
    store = Store(settings.resolved_database_url())
    try:
        assert store.get_content(state.json()["content_ref"]).parts == (
            JsonPart(data={"turn": "x"}),
        )
        assert store.get_content(frame.json()["content_ref"]).parts == (
            TextPart(text="the door"),
            BlobRef(media_type="image/png", ref="https://cams.example/f1.png"),
        )
    finally:
        store.dispose()


async def test_start_post_then_state_shows_processing(cli: Cli) -> None:
    ada = await cli.create("Ada")
    started = await cli.ok("start", "Ada")
    assert started.out.strip() == f"started persona-{ada}"
    posted = await cli.ok("post", "Ada", "@Ada please review change 1", "--priority", "0.9")
    assert posted.out.startswith("delivered ")

    view = await eventually(
        lambda: cli.state("Ada"), lambda v: v["stats"]["processed"] >= 1, timeout_s=60
    )
    assert view["persona_id"] == ada
    assert view["name"] == "Ada"

    text = (await cli.ok("state", ada)).out
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert lines["persona"].strip() == f"Ada ({ada})"
    assert int(lines["processed"]) >= 1
    assert lines["status"].strip() == "live"

    inbox = await cli.ok("inbox", "Ada", "-n", "5")
    assert inbox.out.strip() == "inbox is empty" or inbox.out.startswith("item")
    assert isinstance((await cli.ok("--json", "inbox", "Ada")).json(), list)


async def test_trigger_and_budget(cli: Cli) -> None:
    await cli.create("Ada")
    await cli.ok("start", "Ada")
    message = await cli.fails("trigger", "Ada", "lunch")
    assert "unknown trigger 'lunch'" in message
    assert "shift_end" in message
    assert "shift_start" in message

    paused = await cli.ok("--json", "trigger", "Ada", "shift_end")
    assert paused.json()["status"] == "paused"
    assert (await cli.state("Ada"))["paused"] is True
    assert (await cli.ok("trigger", "Ada", "shift_start")).out.strip().endswith(" is live")

    await cli.ok("budget", "Ada", "0.25")
    assert (await cli.state("Ada"))["compute_budget"] == pytest.approx(0.25)
    assert "outside [0, 1]" in await cli.fails("budget", "Ada", "2")


async def test_stop_prints_counters_then_post_is_refused(cli: Cli) -> None:
    ada = await cli.create("Ada")
    await cli.ok("start", "Ada")
    await cli.ok("post", "Ada", "@Ada look at this", "--priority", "0.9", "--from", "bob")
    await eventually(lambda: cli.state("Ada"), lambda v: v["stats"]["processed"] >= 1)

    stopped = (await cli.ok("stop", "Ada")).out
    counters = dict(line.split(":", 1) for line in stopped.splitlines())
    assert counters["stopped"].strip() == f"Ada ({ada})"
    assert int(counters["delivered"]) >= 1
    assert int(counters["processed"]) >= 1

    message = await cli.fails("post", "Ada", "are you there?")
    assert "is stopped" in message
    assert f"Ada ({ada}) is stopped" in message
    assert "personas start Ada" in message
    listed = (await cli.ok("--json", "list")).json()
    assert listed[0]["life_status"] == "stopped"
    assert "status:          stopped" in (await cli.ok("state", "Ada")).out
    assert "is not running" in await cli.fails("stop", "Ada")


async def test_room_create_post_show(cli: Cli) -> None:
    ada = await cli.create("Ada")
    bob = await cli.create("Bob")
    created = await cli.ok(
        "room", "create", "dev", "--member", "Ada", "--member", bob, "--deadline", "0.5"
    )
    assert created.out.strip() == "room dev (room-dev) with 2 member(s)"
    posted = await cli.ok(
        "room", "post", "dev", "please review the python change", "--from", "carol"
    )
    assert posted.out.startswith("posted ")

    shown = await eventually(
        lambda: cli.ok("--json", "room", "show", "dev"),
        lambda r: r.json()["decided"] >= 1,
        timeout_s=60,
    )
    view = shown.json()
    assert view["room_id"] == "dev"
    assert sorted(view["members"]) == sorted([ada, bob])

    text = (await cli.ok("room", "show", "dev")).out
    assert f"Ada ({ada})" in text
    assert f"Bob ({bob})" in text
    assert (await cli.state("Ada"))["stats"]["delivered"] >= 1

    assert "no room nowhere" in await cli.fails("room", "post", "nowhere", "hello")
    assert "unknown persona 'Zed'" in await cli.fails("room", "create", "x", "--member", "Zed")
    assert "responders" in await cli.fails(
        "room", "create", "y", "--member", "Ada", "--responders", "0"
    )


async def test_json_output_parses(cli: Cli) -> None:
    created = (
        await cli.ok(
            "--json", "create", "--entity", "acme", "--name", "Ada", "--model", "m",
            "--specialization", "python code review", "--activate", "shift_start",
        )
    ).json()  # fmt: skip
    ada = created["persona_id"]
    assert created["name"] == "Ada"
    # --json is accepted after the command too
    listed = (await cli.ok("list", "--json")).json()
    assert [p["persona_id"] for p in listed] == [ada]
    assert (await cli.ok("show", "--json", "Ada")).json()["persona_id"] == ada
    started = (await cli.ok("start", "Ada", "--json")).json()
    assert started["persona_id"] == ada
    posted = (await cli.ok("--json", "post", "Ada", "@Ada hi", "--task-key", "t1")).json()
    assert posted["task_key"] == "t1"
    assert posted["sender_is_human"] is True
    view = await cli.state("Ada")
    assert view["stats"]["delivered"] >= 1
    entity = (await cli.ok("--json", "entity", "add", "beta", "--name", "Beta")).json()
    assert entity == {"entity_id": "beta", "name": "Beta", "resources": []}
    stats = (await cli.ok("--json", "stop", "Ada")).json()
    assert stats["persona_id"] == ada
    assert stats["stats"]["delivered"] >= 1


async def test_names_resolve_and_ambiguity_is_refused(cli: Cli) -> None:
    await cli.ok("entity", "add", "beta", "--name", "Beta", "--resource", "repo:web")
    acme_ada = await cli.create("Ada")
    beta_ada = await cli.create("Ada", entity="beta")
    message = await cli.fails("show", "Ada")
    assert "ambiguous" in message
    assert acme_ada in message
    assert beta_ada in message
    assert (await cli.ok("show", beta_ada)).json()["entity_id"] == "beta"

    await cli.create("Bob")
    message = await cli.fails("post", "Bob", "hi", "--wait-for", "Ada:t1")
    assert "ambiguous" in message
    posted = await cli.ok("--json", "post", "Bob", "hi", "--wait-for", f"{acme_ada}:t1")
    assert posted.json()["waits_for"] == [{"persona_id": acme_ada, "task_key": "t1"}]


async def test_unreachable_temporal_is_one_clear_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    offline = settings.model_copy(update={"temporal_address": address})

    assert await run_async(["entity", "add", "acme", "--name", "Acme"], settings=offline) == 0
    # store-only commands work without Temporal
    assert (
        await run_async(
            [
                "create",
                "--entity",
                "acme",
                "--name",
                "Ada",
                "--model",
                "m",
                "--specialization",
                "s",
            ],
            settings=offline,
        )
        == 0
    )
    assert await run_async(["list"], settings=offline) == 0
    capsys.readouterr()

    assert await run_async(["start", "Ada"], settings=offline) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: cannot reach Temporal at {address}: {UNREACHABLE}\n"


async def test_no_worker_is_one_clear_line(
    dev_env: WorkflowEnvironment, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(settings, dev_env.client, capsys)  # no worker serves this task queue
    await cli.ok("entity", "add", "acme", "--name", "Acme", "--resource", "repo:web")
    await cli.create("Ada")
    await cli.ok("start", "Ada")
    for argv in (("state", "Ada"), ("trigger", "Ada", "shift_end")):
        message = await cli.fails("--timeout", "0.5", *argv)
        assert message == (
            "error: no answer within 0.5s: is a worker (personas-worker) serving task queue "
            f"{settings.task_queue!r} at {settings.temporal_address}?"
        )


async def test_usage_errors_keep_argparse_behaviour(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        await run_async(["post", "Ada", "hi", "--priority", "high"], settings=settings)
    assert exit_info.value.code == 2
    assert "argument --priority" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        await run_async(["post", "Ada", "hi", "--wait-for", "no-colon"], settings=settings)
    assert exit_info.value.code == 2
    assert "PERSONA:TASK_KEY" in capsys.readouterr().err


async def test_stop_with_queued_work_says_where_it_goes_or_drains_it(cli: Cli) -> None:
    await cli.create("Ada")
    await cli.ok("start", "Ada")
    await cli.ok("trigger", "Ada", "shift_end")  # paused: the posts wait
    for i in range(3):
        await cli.ok("post", "Ada", f"status {i}", "--bot", "--priority", "0.5")
    stopped = (await cli.ok("stop", "Ada")).out
    assert "3 waiting and 0 held item(s) went to the overflow record" in stopped
    assert "personas stop Ada --drain" in stopped
    overflow = (await cli.ok("overflow", "Ada", "--reason", "stopped")).out
    assert "3 shed in all" in overflow
    assert len((await cli.ok("--json", "overflow", "Ada", "-n", "2")).json()) == 2
    assert (
        "shed nothing with reason 'inbox_full'"
        in (await cli.ok("overflow", "Ada", "--reason", "inbox_full")).out
    )

    await cli.create("Bob")
    await cli.ok("start", "Bob")
    for i in range(2):
        await cli.ok("post", "Bob", f"@Bob status {i}", "--bot")
    drained = await cli("--timeout", "60", "stop", "Bob", "--drain")
    assert drained.code == 0, drained.err
    assert "went to the overflow record" not in drained.out
    assert int(dict(line.split(":", 1) for line in drained.out.splitlines())["processed"]) == 2
    assert "has shed nothing" in (await cli.ok("overflow", "Bob")).out


async def test_answers_show_what_a_persona_said_per_item(cli: Cli) -> None:
    await cli.create("Ada")
    assert "has not answered anything yet" in (await cli.ok("answers", "Ada")).out
    posted = (await cli.ok("--json", "post", "Ada", "@Ada review the login form")).json()
    await eventually(lambda: cli.state("Ada"), lambda v: v["stats"]["processed"] >= 1)
    answers = (await cli.ok("--json", "answers", "Ada")).json()
    assert [a["item_id"] for a in answers] == [posted["item_id"]]
    assert answers[0]["text"]
    assert posted["item_id"] in (await cli.ok("answers", "Ada")).out


async def test_names_in_messages_create_again_unknown_trigger_and_lifetime_counters(
    cli: Cli,
) -> None:
    ada = await cli.create("Ada")
    again = await cli.fails(
        "create", "--entity", "acme", "--name", "Ada", "--model", "m", "--specialization", "s"
    )
    assert f"already has a persona named 'Ada': Ada ({ada})" in again
    # An unknown trigger is named as such, running or not.
    assert "unknown trigger 'lunch' for persona Ada" in await cli.fails("trigger", "Ada", "lunch")
    assert f"Ada ({ada}) is not running" in await cli.fails("stop", "Ada")
    await cli.ok("post", "Ada", "@Ada hello")
    await eventually(lambda: cli.state("Ada"), lambda v: v["stats"]["processed"] >= 1)
    await cli.ok("stop", "Ada")
    await cli.ok("start", "Ada")
    view = await cli.state("Ada")
    assert view["stats"]["processed"] >= 1  # stop then start keeps the lifetime counters
    assert view["stats"]["delivered"] >= 1


async def test_a_server_without_the_search_attributes_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = await WorkflowEnvironment.start_local(  # a plain dev server: no search attributes
        dev_server_existing_path=temporal_cli_path(), data_converter=pydantic_data_converter
    )
    try:
        bare = Settings(
            temporal_address=env.client.service_client.config.target_host,
            task_queue="bare",
            state_dir=tmp_path / "var",
            database_url=f"sqlite:///{tmp_path / 'bare.db'}",
        )
        runner = Cli(bare, env.client, capsys)
        await runner.ok("entity", "add", "acme", "--name", "Acme", "--resource", "repo:web")
        await runner.create("Ada")
        message = await runner.fails("start", "Ada")
        assert "has no search attributes for personas" in message
        assert "personas server" in message
    finally:
        await env.shutdown()
