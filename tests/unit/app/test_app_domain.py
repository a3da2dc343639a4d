"""App persona models, queue order, preemption choice and the broker's tokens."""

from __future__ import annotations

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from activities.app.broker import Broker, IdentityError
from activities.app.settings import AppSettings
from personas.app.models import AppConfiguration, AppPersona
from personas.app.policy import Amount, Holder, Waiter, choose_victims, is_head, queue_key

KEY = "k" * 32


def broker(*keys: str) -> Broker:
    return Broker(AppSettings(jwt_keys=[SecretStr(k) for k in keys or (KEY,)]))


def test_persona_validates_packages_and_config() -> None:
    p = AppPersona(persona_id="a", persona_name="A", required_applications=("jq", "jq", "curl"))
    assert p.required_applications == ("curl", "jq")
    with pytest.raises(ValidationError, match="not a valid package name"):
        AppPersona(persona_id="a", persona_name="A", required_applications=("jq; rm -rf /",))
    with pytest.raises(ValidationError, match="needs a 'default' environment"):
        AppPersona(persona_id="a", persona_name="A", application_configuration={"x": {}})
    for files in ({"/config/../etc/x": ""}, {"/etc/passwd": ""}, {"/config//a": ""}):
        with pytest.raises(ValidationError, match="plain path under /config"):
            AppConfiguration(files=files)
    with pytest.raises(ValidationError, match="not allowed"):
        AppConfiguration(env={"PATH": "/x"})
    with pytest.raises(ValidationError, match="absolute path"):
        AppConfiguration(paths=("rel",))
    with pytest.raises(ValidationError):
        AppPersona(persona_id="a", persona_name="A", resource_requirements={"memory_mb": 0})


waiters = st.lists(
    st.builds(
        Waiter,
        session_id=st.text("abc", min_size=1, max_size=4),
        priority=st.integers(0, 9),
        enqueued_ms=st.integers(0, 100),
    ),
    min_size=1,
    unique_by=lambda w: w.session_id,
)


@given(waiters)
def test_head_has_highest_priority_then_oldest(ws: list[Waiter]) -> None:
    head = min(ws, key=queue_key)
    assert is_head(head.session_id, ws)
    for w in ws:
        assert (w.priority, -w.enqueued_ms) <= (head.priority, -head.enqueued_ms)


def test_victims_are_lower_priority_lowest_and_youngest_first() -> None:
    a = Amount(cpu_millis=1000)
    holders = [
        Holder(session_id="old1", priority=1, reserved_ms=1, amount=a),
        Holder(session_id="young1", priority=1, reserved_ms=9, amount=a),
        Holder(session_id="p4", priority=4, reserved_ms=1, amount=a),
        Holder(session_id="same", priority=5, reserved_ms=1, amount=a),
    ]
    assert choose_victims(Amount(cpu_millis=1000), Amount(), 5, holders) == ["young1"]
    assert choose_victims(Amount(cpu_millis=2500), Amount(cpu_millis=500), 5, holders) == [
        "young1",
        "old1",
    ]
    assert choose_victims(Amount(cpu_millis=5000), Amount(), 5, holders) == []
    assert choose_victims(Amount(cpu_millis=1000), Amount(), 1, holders) == []


def test_broker_accepts_valid_and_rotated_keys() -> None:
    old = broker("old" * 11)
    assert broker().verify(broker().issue("alice")) == "alice"
    assert broker(KEY, "old" * 11).verify(old.issue("bob")) == "bob"


def test_broker_refuses_bad_tokens() -> None:
    b = broker()
    with pytest.raises(IdentityError, match="expired"):
        b.verify(b.issue("alice", ttl_s=-60))
    with pytest.raises(IdentityError, match="bad signature"):
        b.verify(broker("x" * 32).issue("alice"))
    with pytest.raises(IdentityError, match="wrong audience"):
        b.verify(b.issue("alice", audience="elsewhere"))
    with pytest.raises(IdentityError, match="token refused"):
        b.verify("not-a-token")
    unsigned = jwt.encode({"sub": "alice", "aud": b.audience, "iss": b.issuer}, "", "none")
    with pytest.raises(IdentityError, match="token refused"):
        b.verify(unsigned)
    no_exp = jwt.encode({"sub": "alice", "aud": b.audience, "iss": b.issuer}, KEY, "HS256")
    with pytest.raises(IdentityError, match="exp"):
        b.verify(no_exp)
