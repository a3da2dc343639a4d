"""The item kind registry and content parts: what each kind takes and how it renders."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from personas import items
from personas.items import (
    ContentRefused,
    ItemKind,
    UnknownItemKind,
    headed,
    item_kind,
    item_kind_names,
    register_kind,
)
from personas.parts import (
    MAX_JSON_CHARS,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    BlobRef,
    ContentPart,
    JsonPart,
    TextPart,
    content_parts,
    prompt_text,
)
from tests.unit.strategies import item

PNG = BlobRef(
    media_type="image/png", ref="https://cams.example/frame-1.png", digest="sha256:" + "a" * 64
)


def test_the_existing_kinds_are_registered() -> None:
    assert item_kind_names() == ("chat", "game_state", "vision_frame")
    assert item(kind="chat").kind == "chat"
    assert item().kind == "chat"


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as refused:
        item(kind="chta")
    message = str(refused.value)
    assert "unknown item kind 'chta'" in message
    assert "known kinds: chat, game_state, vision_frame" in message
    with pytest.raises(UnknownItemKind, match="known kinds: chat, game_state, vision_frame"):
        item_kind("vision")


def test_an_unknown_kind_is_refused_when_an_item_is_decoded() -> None:
    text = item(kind="game_state").model_dump_json().replace('"game_state"', '"gamestate"')
    with pytest.raises(ValidationError, match="unknown item kind 'gamestate'"):
        items.InboxItem.model_validate_json(text)


def test_a_chat_message_renders_as_what_was_said() -> None:
    chat = item_kind("chat")
    assert chat.render(item(), (TextPart(text="please review PR 7"),)) == (
        TextPart(text="please review PR 7"),
    )
    rendered = chat.render(item(), (TextPart(text="see"), JsonPart(data={"b": 1, "a": [2]}), PNG))
    assert rendered == (
        TextPart(text="see"),
        TextPart(text='```json\n{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n```'),
        PNG,
    )


def test_a_vision_frame_renders_as_a_heading_then_its_image() -> None:
    frame = item(kind="vision_frame", sender_id="cam-3")
    rendered = item_kind("vision_frame").render(frame, (PNG, TextPart(text="the door")))
    assert rendered == (TextPart(text="Vision frame from cam-3:"), PNG, TextPart(text="the door"))
    assert prompt_text(rendered) == (
        "Vision frame from cam-3:\n"
        f"[image/png attachment: https://cams.example/frame-1.png sha256:{'a' * 64}]\n"
        "the door"
    )


def test_a_game_state_renders_as_a_heading_then_fenced_json() -> None:
    state = item(kind="game_state", sender_id="referee")
    rendered = item_kind("game_state").render(state, (JsonPart(data={"turn": "x"}),))
    assert prompt_text(rendered) == 'Game state from referee:\n```json\n{\n  "turn": "x"\n}\n```'


SAMPLES: dict[str, ContentPart] = {
    "text": TextPart(text="hello"),
    "json": JsonPart(data={"board": [[1, 0], [0, 2]]}),
    "blob": PNG,
}


@pytest.mark.parametrize("name", item_kind_names())
def test_each_kind_renders_each_part_it_takes(name: str) -> None:
    kind = item_kind(name)
    parts = tuple(SAMPLES[t] for t in sorted(kind.part_types))
    kind.check(parts)
    rendered = kind.render(item(kind=name), parts)
    assert all(isinstance(p, TextPart | BlobRef) for p in rendered)
    assert (PNG in rendered) == ("blob" in kind.part_types)
    text = prompt_text(rendered)
    assert ("hello" in text) == ("text" in kind.part_types)
    assert ('"board"' in text) == ("json" in kind.part_types)
    assert kind.render(item(kind=name), parts) == rendered  # deterministic


@pytest.mark.parametrize(
    ("name", "parts", "why"),
    [
        ("vision_frame", (JsonPart(data=1),), "takes blob, text parts, not json"),
        ("game_state", (PNG,), "takes json, text parts, not blob"),
        ("chat", (TextPart(text="x"),) * 17, "at most 16 parts"),
        ("vision_frame", (PNG, TextPart(text="x" * 8_000)), "at most 8000 characters"),
        ("game_state", (JsonPart(data="x" * 200_000),), "at most 200000 characters"),
    ],
)
def test_a_content_that_does_not_fit_its_kind_is_refused(
    name: str, parts: tuple[ContentPart, ...], why: str
) -> None:
    with pytest.raises(ContentRefused, match=why):
        item_kind(name).check(parts)


def test_adding_a_kind_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(items, "_KINDS", dict(items._KINDS))
    audio = register_kind(
        ItemKind(
            name="audio_clip",
            description="a sound",
            part_types=frozenset({"blob"}),
            max_parts=1,
            max_chars=4_096,
            renderer=headed("Audio clip"),
        )
    )
    clip = item(kind="audio_clip", sender_id="mic")
    assert item_kind("audio_clip") is audio
    assert prompt_text(audio.render(clip, (BlobRef(media_type="audio/ogg", ref="k1"),))) == (
        "Audio clip from mic:\n[audio/ogg attachment: k1]"
    )
    with pytest.raises(ValueError, match="registered already"):
        register_kind(audio)
    with pytest.raises(ValueError, match="does not match"):
        register_kind(ItemKind("Audio", "", frozenset({"blob"}), 1, 1))


@pytest.mark.parametrize(
    "part",
    [
        {"type": "text", "text": "x" * (MAX_TEXT_CHARS + 1)},
        {"type": "json", "data": "x" * MAX_JSON_CHARS},
        {"type": "blob", "media_type": "png", "ref": "k"},
        {"type": "blob", "media_type": "image/png", "ref": ""},
        {"type": "blob", "media_type": "image/png", "ref": "k", "digest": "md5:00"},
        {"type": "blob", "media_type": "image/png", "ref": "k", "size_bytes": -1},
        {"type": "video", "ref": "k"},
        {"type": "text", "text": "x", "extra": 1},
    ],
)
def test_bad_parts_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        content_parts.validate_python([part])


def test_parts_round_trip_through_json_and_are_bounded_in_number() -> None:
    parts = (TextPart(text="a"), JsonPart(data=[1, {"k": None}]), PNG)
    assert content_parts.validate_json(content_parts.dump_json(parts)) == parts
    with pytest.raises(ValidationError):
        content_parts.validate_python([TextPart(text="a")] * (MAX_PARTS + 1))
