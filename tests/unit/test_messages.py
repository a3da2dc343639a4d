"""Message names: declared once, and the only signals an activity may send a persona."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.contracts import PersonaSignal
from personas import messages


@pytest.mark.parametrize("signal", messages.PERSONA_SIGNALS)
def test_activities_may_send_a_persona_its_signals(signal: str) -> None:
    assert PersonaSignal(persona_id="p", signal=signal, payload={}).signal == signal


@pytest.mark.parametrize("signal", [messages.STOP, messages.FIRE_TRIGGER, "deliverx", ""])
def test_and_no_other_message(signal: str) -> None:
    with pytest.raises(ValidationError):
        PersonaSignal(persona_id="p", signal=signal, payload={})
