"""Placing sessions across hosts: where they fit with the most headroom, else where they can
queue; spread over equally loaded hosts; refused when no host could hold them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from personas.app.placement import HostLoad, choose_host, too_big_for
from personas.app.policy import Amount

SMALL = Amount(cpu_millis=500, memory_mb=128, storage_mb=64)


def host(host_id: str, used_mb: int = 0, queued: int = 0, mb: int = 1024) -> HostLoad:
    return HostLoad(
        host_id=host_id,
        capacity=Amount(cpu_millis=4000, memory_mb=mb, storage_mb=4096),
        used=Amount(memory_mb=used_mb),
        queued=queued,
    )


def test_the_host_left_with_most_headroom_wins() -> None:
    assert choose_host(SMALL, [host("a", used_mb=512), host("b", used_mb=128)], "s1") == "b"


def test_a_full_host_is_skipped_and_a_session_queues_where_the_queue_is_shortest() -> None:
    assert choose_host(SMALL, [host("a", used_mb=1000), host("b")], "s1") == "b"
    full = [host("a", used_mb=1000, queued=3), host("b", used_mb=1000, queued=1)]
    assert choose_host(SMALL, full, "s1") == "b"


def test_too_big_for_every_host_is_refused_naming_the_dimension() -> None:
    huge = Amount(memory_mb=5000)
    assert choose_host(huge, [host("a"), host("b", mb=2048)], "s1") is None
    assert too_big_for(huge, [host("a"), host("b", mb=2048)]) == ["memory_mb 5000 > 2048"]
    assert choose_host(SMALL, [], "s1") is None


def test_simultaneous_sessions_on_equal_hosts_spread_over_both() -> None:
    hosts = [host("a"), host("b")]
    chosen = [choose_host(SMALL, hosts, f"s{i}") for i in range(40)]
    assert 10 <= chosen.count("a") <= 30


@given(st.lists(st.integers(0, 1024), min_size=1, max_size=6), st.text(max_size=10))
def test_the_choice_is_a_host_where_it_fits_when_one_exists(used: list[int], key: str) -> None:
    hosts = [host(f"h{i}", used_mb=u) for i, u in enumerate(used)]
    chosen = choose_host(SMALL, hosts, key)
    assert chosen is not None
    fits = {h.host_id for h in hosts if SMALL.fits_in(h.capacity - h.used)}
    if fits:
        assert chosen in fits
    assert chosen == choose_host(SMALL, hosts, key)


def test_a_preempting_session_goes_where_preemption_makes_it_fit() -> None:
    big = Amount(cpu_millis=500, memory_mb=512, storage_mb=64)
    a = host("a", used_mb=1000, queued=0)  # full of its equals: nothing to preempt
    b = host("b", used_mb=1000, queued=2).model_copy(update={"preemptible": Amount(memory_mb=600)})
    assert choose_host(big, [a, b], "s1") == "a"  # no preemption: the shorter queue
    assert choose_host(big, [a, b], "s1", preempt=True) == "b"
