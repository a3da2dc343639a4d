"""Model providers over real HTTP, and the idempotence of persona activities."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from temporalio.testing import ActivityEnvironment

from activities.contracts import RoomPostRequest, ShedBatch, ThinkRequest
from activities.funding.audit_log import AuditLog
from activities.funding.db import Database
from activities.persona_activities import PersonaActivities
from activities.providers import (
    OfflineDeterministicProvider,
    OpenAICompatibleProvider,
    Prompt,
    ProviderError,
)
from activities.store import Store
from personas.items import InboxItem
from personas.parts import BlobRef, JsonPart, TextPart, prompt_text


class ChatCompletions(BaseHTTPRequestHandler):
    """A local server speaking the chat-completions protocol, standing in for a paid API."""

    requests: list[dict[str, Any]] = []
    reply: Any = None
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        payload = json.dumps(type(self).reply).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[str]:
    ChatCompletions.requests = []
    ChatCompletions.status = 200
    ChatCompletions.reply = {
        "choices": [{"message": {"role": "assistant", "content": "LGTM with two nits"}}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 5},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


async def test_openai_compatible_provider_sends_chat_and_reads_usage(chat_server: str) -> None:
    provider = OpenAICompatibleProvider(chat_server, "sk-test")
    completion = await provider.complete("llama3", "You review code.", "Review PR 7")
    await provider.aclose()
    assert (completion.text, completion.tokens_in, completion.tokens_out) == (
        "LGTM with two nits",
        31,
        5,
    )
    sent = ChatCompletions.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["model"] == "llama3"
    assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]


async def test_openai_compatible_provider_refuses_what_is_not_a_completion(
    chat_server: str,
) -> None:
    provider = OpenAICompatibleProvider(chat_server, "")
    ChatCompletions.reply = {"error": "model not loaded"}
    with pytest.raises(ProviderError, match="not a chat completion"):
        await provider.complete("llama3", "s", "p")
    ChatCompletions.status = 503
    with pytest.raises(openai.APIStatusError):
        await provider.complete("llama3", "s", "p")
    await provider.aclose()
    assert ChatCompletions.requests[0]["auth"] is None


async def test_offline_provider_is_deterministic_and_says_so() -> None:
    provider = OfflineDeterministicProvider()
    first = await provider.complete("m", "You are Ada.", "hello world")
    again = await provider.complete("m", "You are Ada.", "hello world")
    other = await provider.complete("m", "You are Ada.", "hello there")
    assert first == again
    assert first.text != other.text
    assert "offline-deterministic" in first.text


PNG = BlobRef(media_type="image/png", ref="https://cams.example/f1.png")


async def test_offline_provider_reads_parts_as_text() -> None:
    provider = OfflineDeterministicProvider()
    text = await provider.complete("m", "You are Ada.", "hello world")
    assert await provider.complete("m", "You are Ada.", (TextPart(text="hello world"),)) == text
    framed = await provider.complete("m", "You are Ada.", (TextPart(text="look"), PNG))
    placeholder = await provider.complete(
        "m", "You are Ada.", "look\n[image/png attachment: https://cams.example/f1.png]"
    )
    assert framed == placeholder


async def test_openai_compatible_provider_sends_images_as_image_url_parts(
    chat_server: str,
) -> None:
    provider = OpenAICompatibleProvider(chat_server, "")
    await provider.complete("llava", "s", (TextPart(text="a"), TextPart(text="b")))
    await provider.complete("llava", "s", (TextPart(text="what is this?"), PNG))
    await provider.complete("llava", "s", (BlobRef(media_type="image/png", ref="key-1"),))
    text_only = OpenAICompatibleProvider(chat_server, "", images=False)
    await text_only.complete("llama3", "s", (TextPart(text="what is this?"), PNG))
    await provider.aclose()
    await text_only.aclose()
    sent = [r["body"]["messages"][1]["content"] for r in ChatCompletions.requests]
    assert sent == [
        "a\nb",
        [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://cams.example/f1.png"}},
        ],
        "[image/png attachment: key-1]",
        "what is this?\n[image/png attachment: https://cams.example/f1.png]",
    ]


class RecordingProvider(OfflineDeterministicProvider):
    """The offline provider, keeping the prompts it was given."""

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    @property
    def calls(self) -> int:
        """How many times the model was called."""
        return len(self.prompts)

    async def complete(self, model: str, system: str, prompt: Prompt) -> Any:
        self.prompts.append(prompt)
        return await super().complete(model, system, prompt)


async def test_think_runs_the_model_once_per_item_under_retry(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    provider = RecordingProvider()
    acts = PersonaActivities(store, provider, client=None, task_queue="q")  # type: ignore[arg-type]
    text_ref = store.put_content("chat", "please review PR 7")
    item = InboxItem(
        item_id=uuid.uuid4().hex, sender_id="bob", content_ref=text_ref, sent_at=datetime.now(UTC)
    )
    request = ThinkRequest(
        persona_id="p1", persona_name="Ada", base_persona="m", specialization="review", item=item
    )
    env = ActivityEnvironment()
    first = await env.run(acts.think, request)
    retried = await env.run(acts.think, request)
    assert retried == first.model_copy(update={"compute_ms": 0})  # compute is metered once
    assert provider.calls == 1
    assert store.count_outcomes("p1") == 1
    assert "please review PR 7" in (store.get_content(first.output_ref).text or "")

    batch = ShedBatch(persona_id="p1", rows=[("i1", "inbox_full", 100, {"item_id": "i1"})])
    assert await env.run(acts.record_shed, batch) == 1
    assert await env.run(acts.record_shed, batch) == 0
    assert store.count_shed("p1") == 1
    post = RoomPostRequest(room_id="r1", message_id="m1", persona_id="p1", content_ref=text_ref)
    await env.run(acts.post_to_room, post)
    await env.run(acts.post_to_room, post)

    log = AuditLog(Database(store.url))
    entries = log.entries(persona_id="p1")
    assert [(e.kind, e.actor) for e in entries] == [
        ("persona.respond", "p1"),
        ("persona.shed", "p1"),
        ("persona.room_post", "p1"),
    ]
    assert entries[0].data["item_id"] == item.item_id
    assert entries[0].data["tokens_out"] == first.tokens_out
    assert entries[1].data == {"items": {"i1": "inbox_full"}}
    # Another persona bidding on the same room message gets its own entry.
    bid = request.model_copy(update={"persona_id": "p2", "purpose": "bid"})
    await env.run(acts.think, bid)
    assert [e.kind for e in log.entries(persona_id="p2")] == ["persona.bid"]
    await env.run(acts.record_shed, batch.model_copy(update={"persona_id": "p2"}))
    assert [e.kind for e in log.entries(persona_id="p2")] == ["persona.bid", "persona.shed"]
    assert log.verify()[0]
    store.dispose()


async def test_a_think_that_died_before_its_audit_entry_gets_it_on_retry(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    acts = PersonaActivities(store, RecordingProvider(), client=None, task_queue="q")  # type: ignore[arg-type]
    item = InboxItem(item_id="i9", sender_id="bob", content_ref=None, sent_at=datetime.now(UTC))
    request = ThinkRequest(
        persona_id="p1", persona_name="Ada", base_persona="m", specialization="review", item=item
    )
    # The first attempt recorded its outcome and died before appending its audit entry.
    store.record_outcome("p1", "i9", "respond", store.put_content("output", "x"), 3, 4)
    log = AuditLog(Database(store.url))
    assert log.entries(persona_id="p1") == []
    await ActivityEnvironment().run(acts.think, request)
    await ActivityEnvironment().run(acts.think, request)
    assert [(e.kind, e.data["tokens_in"]) for e in log.entries(persona_id="p1")] == [
        ("persona.respond", 3)
    ]
    store.dispose()


async def test_think_renders_the_content_through_its_kind(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    provider = RecordingProvider()
    acts = PersonaActivities(store, provider, client=None, task_queue="q")  # type: ignore[arg-type]
    state = store.put_content(
        "game_state", parts=[JsonPart(data={"turn": "x"}), TextPart(text="your move")]
    )
    chat = store.put_content("chat", "please review PR 7")
    env = ActivityEnvironment()
    for item_id, kind, ref in [
        ("g1", "game_state", state),
        ("c1", "chat", chat),
        ("n1", "chat", None),
    ]:
        item = InboxItem(
            item_id=item_id, kind=kind, sender_id="ref", content_ref=ref, sent_at=datetime.now(UTC)
        )
        request = ThinkRequest(
            persona_id="p1", persona_name="Ada", base_persona="m", specialization="go", item=item
        )
        await env.run(acts.think, request)
    assert [prompt_text(p) for p in provider.prompts] == [
        'Game state from ref:\n```json\n{\n  "turn": "x"\n}\n```\nyour move',
        "please review PR 7",
        "chat from ref",
    ]
    store.dispose()
