"""Host ids and queue routing: host-bound activities only on a host's pinned queue,
placements on the shared host queue, hostile host ids refused in one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from activities.app import contracts as app
from activities.app.settings import AppSettings
from activities.host import CLAIM, HostInfo, base_of, check_host_id
from activities.queues import (
    HOST_ACTIVITIES,
    PLACEMENT_ACTIVITIES,
    Unpinned,
    host_queue,
    is_pinned,
    queue_for,
    role_of,
)


def test_host_bound_activities_have_no_queue_but_their_hosts() -> None:
    for name in HOST_ACTIVITIES:
        assert is_pinned(name)
        assert role_of(name) == "host"
        with pytest.raises(Unpinned, match="host-bound"):
            queue_for(name, "personas")
    assert host_queue("personas", "a") == "personas-host-a"


def test_placements_go_to_the_shared_host_queue() -> None:
    assert {CLAIM, app.PLACE} == PLACEMENT_ACTIVITIES
    for name in PLACEMENT_ACTIVITIES:
        assert not is_pinned(name)
        assert queue_for(name, "personas") == "personas-host"
    assert base_of("personas-host") == "personas"
    assert queue_for(app.RESERVE, "personas") == "personas"  # the store: life


@pytest.mark.parametrize("bad", ["", "A", "-a", "a b", "a/b", "x" * 41, "h\u00e9", "a\x00", "../a"])
def test_hostile_host_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="host id"):
        check_host_id(bad)
    with pytest.raises(ValidationError):
        HostInfo(host_id=bad)
    with pytest.raises(ValidationError):
        AppSettings(host_id=bad, _env_file=None)


def test_a_loss_timeout_is_bounded() -> None:
    assert HostInfo().loss_timeout_s == 30
    for bad in (0, -1, 3601, float("inf")):
        with pytest.raises(ValidationError):
            HostInfo(loss_timeout_s=bad)
    settings = AppSettings(host_id="h-1", host_loss_timeout_s=4, _env_file=None)
    assert settings.host() == HostInfo(host_id="h-1", loss_timeout_s=4)
