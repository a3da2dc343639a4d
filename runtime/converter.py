"""The project's data converter: pydantic on the wire, and one error for what cannot decode.

The SDK turns a payload that does not decode (an unknown encoding, invalid JSON, a lone
surrogate, a value its type refuses) into different exceptions, most of which fail the
workflow task, over and over, when they meet a workflow's start input. Here every decoding
failure is one :class:`UndecodablePayload`, which each workflow names in its
``failure_exception_types``: an undecodable start input fails the workflow once, cleanly;
an undecodable update is refused; an undecodable signal is dropped by the SDK (with a warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter

#: The most of a decoding error's text an :class:`UndecodablePayload` keeps.
REASON_CHARS = 200


class UndecodablePayload(ValueError):
    """A payload that does not decode into the type it was sent for (one bounded line)."""


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:REASON_CHARS]


class GuardedPayloadConverter(PydanticPayloadConverter):
    """The pydantic payload converter, raising :class:`UndecodablePayload` on any failure."""

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """Decode, or raise :class:`UndecodablePayload` saying why (never the payload)."""
        try:
            return super().from_payloads(payloads, type_hints)
        except Exception as err:
            raise UndecodablePayload(f"payload does not decode: {_one_line(err)}") from None


data_converter = DataConverter(payload_converter_class=GuardedPayloadConverter)
"""The converter every client, worker, test environment and replayer of the project uses."""
