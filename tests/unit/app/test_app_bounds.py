"""Bounds of the app persona's models, tmpfs caps within the memory limit, the deployment
id, and the broker's refusal to run on the development key outside development mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from activities import ownership
from activities.app.broker import DEV_KEY, Broker, BrokerNotConfigured
from activities.app.contracts import ExecRequest, ReconcileReport
from activities.app.settings import AppSettings
from clients.app_api import MAX_MESSAGE, one_line
from personas.app import models as m
from personas.app.models import AppConfiguration, AppPersona, ResourceRequirements, SessionRequest
from personas.app.views import PreemptNotice, ReleaseCommand, RunCommand
from runtime.settings import Settings
from workers.main import run_worker

HUGE = "x" * 2**20


def _refusal(model: type[BaseModel], **fields: object) -> str:
    """The one line a client raises for ``fields`` (see ``clients.app_api.one_line``)."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(fields)
    return one_line(info.value)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (AppPersona, {"persona_id": "a", "persona_name": HUGE}),
        (AppPersona, {"persona_id": "a", "persona_name": "A", "required_applications": [HUGE]}),
        (
            AppPersona,
            {"persona_id": "a", "persona_name": "A", "required_applications": ["jq"] * 65},
        ),
        (
            AppPersona,
            {
                "persona_id": "a",
                "persona_name": "A",
                "application_configuration": {f"e{i}": {} for i in range(20)} | {"default": {}},
            },
        ),
        (AppConfiguration, {"files": {"/config/" + HUGE: ""}}),
        (AppConfiguration, {"files": {"/config/a": HUGE}}),
        (AppConfiguration, {"files": {f"/config/{i}": "x" * 200_000 for i in range(3)}}),
        (AppConfiguration, {"files": {f"/config/{i}": "" for i in range(65)}}),
        (AppConfiguration, {"env": {"A": HUGE}}),
        (AppConfiguration, {"env": {f"V{i}": "" for i in range(129)}}),
        (AppConfiguration, {"paths": ["/" + HUGE]}),
        (SessionRequest, {"session_id": "s-1234", "persona_id": "p", "user_id": HUGE}),
        (SessionRequest, {"session_id": "s-1234", "persona_id": HUGE, "user_id": "u"}),
        (
            SessionRequest,
            {"session_id": "s-1234", "persona_id": "p", "user_id": "u", "environment": HUGE},
        ),
        (ReleaseCommand, {"user_id": "u", "reason": HUGE}),
        (ReleaseCommand, {"user_id": "u", "reason": ""}),
        (RunCommand, {"user_id": "u", "argv": [HUGE]}),
        (RunCommand, {"user_id": "u", "argv": ["a"] * 257}),
        (PreemptNotice, {"by_session": HUGE, "priority": 5}),
        (ExecRequest, {"session_id": "s-1234", "argv": [HUGE]}),
        (ReconcileReport, {"checked": 0, "orphaned": ["x"] * 1001, "removed": []}),
    ],
)
def test_huge_values_are_refused_with_a_short_message(
    model: type[BaseModel], fields: dict[str, object]
) -> None:
    assert len(_refusal(model, **fields)) <= MAX_MESSAGE  # the refusal never echoes the value


def test_refusals_quote_a_short_prefix() -> None:
    bad = "Bad Name " + "y" * 200
    text = _refusal(AppConfiguration, env={bad[:120]: "v"})
    assert "'Bad Name yyyy" in text
    assert "y" * 100 not in text
    assert len(m.short(HUGE)) < 50


@given(st.text(max_size=300))
def test_short_is_bounded(value: str) -> None:
    assert len(m.short(value)) <= 3 * m.PREFIX + 10


def test_tmpfs_caps_must_fit_in_the_memory_limit() -> None:
    with pytest.raises(ValidationError, match=r"tmpfs caps .* exceed memory_mb 64"):
        ResourceRequirements(memory_mb=64, storage_mb=64)
    with pytest.raises(ValidationError, match="exceed memory_mb"):
        ResourceRequirements(memory_mb=128, storage_mb=16, tmp_mb=100)
    ok = ResourceRequirements(memory_mb=64, storage_mb=16)
    assert ok.storage_mb + ok.tmp_mb + ok.home_mb + m.PROCESS_RESERVE_MB <= ok.memory_mb
    assert ResourceRequirements()  # the defaults fit


def test_deployment_id_is_derived_from_server_namespace_and_store() -> None:
    base = ownership.derive("127.0.0.1:7233", "default", "sqlite:///a.db")
    assert base == ownership.derive("127.0.0.1:7233", "default", "sqlite:///a.db")
    assert base != ownership.derive("127.0.0.1:7233", "staging", "sqlite:///a.db")
    assert base != ownership.derive("10.0.0.1:7233", "default", "sqlite:///a.db")
    assert base != ownership.derive("127.0.0.1:7233", "default", "sqlite:///b.db")
    secret_url = "postgresql://u:hunter2@db/p"
    assert "hunter2" not in ownership.derive("a", "b", secret_url)
    assert ownership.resolve("prod-eu", "a", "b", "c") == "prod-eu"
    with pytest.raises(ownership.OwnershipError):
        ownership.resolve("bad id!" + HUGE, "a", "b", "c")
    assert ownership.owned_filter("d1", "x") == {"label": ["persona.deployment=d1", "x"]}
    assert ownership.is_owned({"persona.deployment": "d1"}, "d1")
    assert not ownership.is_owned({"persona.deployment": "d2"}, "d1")
    assert not ownership.is_owned(None, "d1")


def test_broker_refuses_to_run_without_keys_outside_dev_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PERSONAS_APP_JWT_KEYS", raising=False)
    with pytest.raises(BrokerNotConfigured, match="PERSONAS_APP_JWT_KEYS is not set"):
        Broker(AppSettings(_env_file=None))
    dev = Broker(AppSettings(_env_file=None, dev_mode=True))
    assert dev.keys == [DEV_KEY]
    configured = Broker(AppSettings(jwt_keys=[SecretStr("k" * 32)]))
    forged = dev.issue("mallory")
    with pytest.raises(Exception, match="bad signature"):
        configured.verify(forged)  # a token signed with the development key is refused


async def test_the_worker_refuses_to_start_without_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PERSONAS_APP_JWT_KEYS", raising=False)
    monkeypatch.delenv("PERSONAS_APP_DEV_MODE", raising=False)
    monkeypatch.chdir(tmp_path)  # no personas.env here
    with pytest.raises(BrokerNotConfigured, match="PERSONAS_APP_DEV_MODE=true"):
        await run_worker(Settings(state_dir=tmp_path / "var"))
    assert not (tmp_path / "var").exists()  # refused before anything was set up
