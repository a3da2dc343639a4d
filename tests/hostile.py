"""Hostile payloads: malformed and oversized inputs for every signal, update and start input.

Payloads are built as raw Temporal payloads (:class:`temporalio.common.RawValue`), so that
what a careful client would refuse to encode (a lone surrogate, NaN, invalid JSON, a null or
binary payload, an unknown encoding, deep nesting) still reaches the server and the worker.
Each :class:`Hostile` knows whether it can decode at all, so a test can say what should
become of it: an undecodable signal is dropped by the SDK, a decodable but invalid one is
refused and counted by the workflow, an update is refused either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from runtime.converter import UndecodablePayload, data_converter

HUGE_CHARS = 300_000
"""A string far beyond any bound (but under the server's 2 MB payload limit)."""
HUGE_ITEMS = 20_000
"""A list far beyond any bound."""


_MISSING = object()


@dataclass(frozen=True)
class Hostile:
    """One hostile payload and what it is. Whether it decodes, and as what, is found by the
    project's own converter, exactly as a workflow's handler of ``Any`` would see it."""

    label: str
    payload: Payload

    def raw(self) -> RawValue:
        """The payload, to send as is."""
        return RawValue(self.payload)

    @property
    def value(self) -> Any:
        """The payload decoded as ``Any`` (``_MISSING`` when it does not decode)."""
        try:
            return data_converter.payload_converter.from_payloads([self.payload], [Any])[0]
        except UndecodablePayload:
            return _MISSING

    @property
    def decodes(self) -> bool:
        """Whether the payload decodes at all (an undecodable signal is dropped by the SDK)."""
        return self.value is not _MISSING

    def valid_as(self, model: type[BaseModel]) -> bool:
        """Whether a handler validating the decoded value as ``model`` would accept it."""
        value = self.value
        if value is _MISSING:
            return False
        try:
            model.model_validate(value)
        except (ValidationError, RecursionError):
            return False
        return True


def json_payload(value: Any, label: str = "json") -> Hostile:
    """``value`` as a JSON payload (NaN and infinity as the non-standard literals)."""
    data = json.dumps(value, allow_nan=True).encode()
    return Hostile(label, Payload(metadata={"encoding": b"json/plain"}, data=data))


def raw_payload(label: str, data: bytes, encoding: bytes = b"json/plain") -> Hostile:
    """Bytes that are not valid JSON (or not JSON at all) in a payload of ``encoding``."""
    return Hostile(label, Payload(metadata={"encoding": encoding}, data=data))


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


UNDECODABLE: list[Hostile] = [
    raw_payload("lone surrogate", b'{"item_id": "\\ud800"}'),
    raw_payload("invalid utf-8", b'"\xff\xfe"'),
    raw_payload("truncated json", b'{"item_id": '),
    raw_payload("deep nesting", _nested(5_000)),
    raw_payload("unknown encoding", b"{}", b"application/x-hostile"),
    raw_payload("binary/null with data", b"x", b"binary/null"),
    raw_payload("not utf-8 encoding name", b"{}", b"\xff\xfe"),
]
"""Payloads the converter cannot decode at all."""

NULL = Hostile("null payload", Payload(metadata={"encoding": b"binary/null"}))
BINARY = Hostile("binary payload", Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00"))
"""Payloads that decode as themselves (None, bytes) whatever type the handler declares."""

junk_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**64, -(2**63) - 1, 10**30, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308]),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "\n", "x" * HUGE_CHARS, "é" * 5_000]),
    st.lists(st.integers(), max_size=4),
    st.just(["y"] * HUGE_ITEMS),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.integers(min_value=20, max_value=120).map(lambda d: json.loads(_nested(d))),
)
"""Values of every wrong type and size (each encodable as JSON)."""


def mutations(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid payload with one field replaced by junk, removed, or one unknown field added."""
    keys = sorted(valid)

    def replaced(key: str, junk: Any) -> dict[str, Any]:
        return {**valid, key: junk}

    def removed(key: str) -> dict[str, Any]:
        return {k: v for k, v in valid.items() if k != key}

    return st.one_of(
        st.builds(replaced, st.sampled_from(keys), junk_values),
        st.builds(removed, st.sampled_from(keys)),
        st.builds(lambda junk: {**valid, "unexpected": junk}, junk_values),
    )


def hostile_payloads(valid: dict[str, Any]) -> st.SearchStrategy[Hostile]:
    """Hostile payloads for a message whose valid payload looks like ``valid``."""
    return st.one_of(
        mutations(valid).map(lambda v: json_payload(v, "mutated")),
        junk_values.map(lambda v: json_payload(v, "junk")),
        st.sampled_from([*UNDECODABLE, NULL, BINARY]),
    )


def hostile_list(valid: dict[str, Any], n: int) -> list[Hostile]:
    """``n`` hostile payloads for a message like ``valid``, then every undecodable, null and
    binary payload (always: each is a way a handler may be called with what it did not
    declare)."""
    return [*draw(hostile_payloads(valid), n), *UNDECODABLE, NULL, BINARY]


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy`` (hypothesis generates them; the test sends them)."""
    drawn: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def classify(payloads: list[Hostile], model: type[BaseModel]) -> tuple[int, int, int]:
    """(undecodable, invalid, valid) counts of ``payloads`` for a handler of ``model``."""
    undecodable = sum(not p.decodes for p in payloads)
    valid = sum(p.valid_as(model) for p in payloads)
    return undecodable, len(payloads) - undecodable - valid, valid
