"""Dependencies between personas and room coordination, on the time-skipping server."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from activities.funding.audit_log import AuditLog
from activities.funding.db import Database
from activities.store import RoomPost
from clients.api import PersonaClient
from personas.coordination import FloorPolicy
from personas.rooms import RoomView
from tests.helpers import eventually, profile


async def test_reviewer_waits_for_analysis_and_planner_waits_for_both(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    helper, reviewer, planner = [
        (await time_personas.create_persona(profile(name), created_by="test")).persona_id
        for name in ("Helper", "Reviewer", "Planner")
    ]
    analysis = {"persona_id": helper, "task_key": "analysis-42"}
    review = {"persona_id": reviewer, "task_key": "review-42"}
    await time_personas.start_life(helper)  # the helper's life runs; it gets its work later
    plan = await time_personas.post_to_persona(
        planner, "@Planner plan the release", "alice", waits_for=[analysis, review]
    )
    review_item = await time_personas.post_to_persona(
        reviewer, "@Reviewer review PR 42", "alice", task_key="review-42", waits_for=[analysis]
    )
    await time_env.sleep(60)
    for pid in (reviewer, planner):
        view = await time_personas.view(pid)
        assert (view.held, view.stats.processed) == (1, 0)

    analysis_item = await time_personas.post_to_persona(
        helper, "@Helper analyse PR 42", "alice", task_key="analysis-42"
    )
    for pid in (helper, reviewer, planner):
        await eventually(
            lambda pid=pid: time_personas.view(pid),  # type: ignore[misc]
            lambda v: v.stats.processed == 1 and v.held == 0,
            advance=lambda: time_env.sleep(5),
        )
    store = time_personas.store
    finished = [
        store.get_outcome(pid, item.item_id)
        for pid, item in ((helper, analysis_item), (reviewer, review_item), (planner, plan))
    ]
    times = [outcome.recorded_at for outcome in finished if outcome is not None]
    assert len(times) == 3
    assert times == sorted(times)

    # Each persona's work, and the helper's notice to those waiting, are in its audit chain.
    log = AuditLog(Database(store.url))
    helper_trail = await eventually(
        lambda: asyncio.to_thread(log.entries, persona_id=helper),
        lambda es: len(es) >= 2,
        advance=lambda: time_env.sleep(5),
    )
    kinds = [e.kind for e in helper_trail]
    assert kinds[0] == "persona.respond"
    assert set(kinds[1:]) == {"persona.signal"}
    assert {e.data["to"] for e in helper_trail[1:]} <= {reviewer, planner}
    assert {e.entity_id for e in helper_trail} == {store.get_persona(helper).entity_id}
    for pid, item in ((reviewer, review_item), (planner, plan)):
        worked = [e for e in log.entries(persona_id=pid) if e.kind == "persona.respond"]
        assert [e.data["item_id"] for e in worked] == [item.item_id]
    assert log.verify()[0]


async def test_dependency_already_finished_releases_at_once(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    helper = (await time_personas.create_persona(profile("Helper"), created_by="t")).persona_id
    reviewer = (await time_personas.create_persona(profile("Reviewer"), created_by="t")).persona_id
    await time_personas.post_to_persona(helper, "@Helper analyse", "alice", task_key="a-1")
    await eventually(
        lambda: time_personas.view(helper),
        lambda v: v.stats.processed == 1,
        advance=lambda: time_env.sleep(1),
    )
    await time_personas.post_to_persona(
        reviewer, "@Reviewer review", "alice", waits_for=[{"persona_id": helper, "task_key": "a-1"}]
    )
    view = await eventually(
        lambda: time_personas.view(reviewer),
        lambda v: v.stats.processed == 1,
        advance=lambda: time_env.sleep(1),
    )
    assert view.held == 0


async def test_room_grants_one_responder_per_message_and_silences_nobody(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    members = [
        (await time_personas.create_persona(profile(name), created_by="t")).persona_id
        for name in ("Ann", "Ben", "Cal")
    ]
    await time_personas.create_room(
        "standup", members, FloorPolicy(responders=1, decision_deadline_s=120)
    )
    messages = [
        await time_personas.post_to_room("standup", f"python code review question {i}", "alice")
        for i in range(6)
    ]
    room = await eventually(
        lambda: time_personas.room("standup"),
        lambda r: r.decided == 6,
        timeout_s=60,
        advance=lambda: time_env.sleep(10),
    )
    # One responder per message, and nobody silenced: credits for lost bids outweigh the
    # small relevance differences (an "active room" bonus) that timing gives members.
    assert sum(room.grants_total.values()) == 6
    assert set(room.grants_total) == set(members)
    transcript = await eventually(
        lambda: _transcript(time_personas, "standup"),
        lambda t: len(t) == 6,
        advance=lambda: time_env.sleep(5),
    )
    assert sorted(p.message_id for p in transcript) == sorted(m.item_id for m in messages)
    assert {p.persona_id for p in transcript} == set(members)
    # Every member's bid on every message, and each granted post, is in its own audit chain.
    log = AuditLog(Database(time_personas.store.url))
    for pid in members:
        trail = log.entries(persona_id=pid)
        bids = {e.data["item_id"] for e in trail if e.kind == "persona.bid"}
        assert bids == {m.item_id for m in messages}
        posts = {e.data["message_id"] for e in trail if e.kind == "persona.room_post"}
        assert posts == {p.message_id for p in transcript if p.persona_id == pid}


async def _transcript(personas: PersonaClient, room_id: str) -> list[RoomPost]:
    return personas.store.room_transcript(room_id)


async def test_a_mention_in_a_busy_room_goes_first_and_every_floor_is_decided(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    members = [
        (await time_personas.create_persona(profile(name), created_by="t")).persona_id
        for name in ("Ann", "Ben", "Cal")
    ]
    ann, _, cal = members
    await time_personas.create_room("busy", members)  # the default policy
    chatter = [
        await time_personas.post_to_room("busy", f"bot status {i}: all green", ann, human=False)
        for i in range(12)
    ]
    mention = await time_personas.post_to_room("busy", "@Cal please look at the build", "alice")
    store = time_personas.store
    await eventually(
        lambda: asyncio.to_thread(store.get_outcome, cal, mention.item_id),
        lambda outcome: outcome is not None,
        advance=lambda: time_env.sleep(1),
    )
    # Cal takes the mention ahead of the chatter queued before it (an urgent item).
    before = [
        store.get_outcome(cal, c.item_id) for c in chatter if store.get_outcome(cal, c.item_id)
    ]
    assert len(before) < len(chatter) // 2
    # The client signalled Cal directly (a member the post mentions, from the room's memo):
    # the room's batch delivery that followed was a duplicate Cal ignored.
    assert (await time_personas.view(cal)).stats.duplicates >= 1
    # Every floor is decided, by its members' answers or by its deadline, with the defaults.
    room = await eventually(
        lambda: time_personas.room("busy"),
        lambda r: r.decided == len(chatter) + 1 and r.open_floors == 0,
        timeout_s=60,
        advance=lambda: time_env.sleep(5),
    )
    assert room.undelivered == 0
    # The person's question was answered in the room (chatter may be passed or answered late).
    transcript = await eventually(
        lambda: _transcript(time_personas, "busy"),
        lambda t: mention.item_id in {p.message_id for p in t},
        advance=lambda: time_env.sleep(5),
    )
    assert len(transcript) <= sum((await time_personas.room("busy")).grants_total.values())


async def test_a_chatter_flood_waits_in_the_room_within_its_window(
    time_env: WorkflowEnvironment, time_personas: PersonaClient
) -> None:
    members = [
        (await time_personas.create_persona(profile(name), created_by="t")).persona_id
        for name in ("Ann", "Ben", "Cal")
    ]
    policy = FloorPolicy(chatter_window=2, backlog=4)
    await time_personas.create_room("flood", members, policy)
    await asyncio.gather(
        *(
            time_personas.post_to_room("flood", f"bot status {i}", members[0], human=False)
            for i in range(8)
        )
    )
    seen: list[int] = []

    def observe(view: RoomView) -> bool:
        seen.append(view.open_floors)
        return view.decided + view.shed == 8 and view.open_floors == 0

    room = await eventually(
        lambda: time_personas.room("flood"),
        observe,
        timeout_s=60,
        advance=lambda: time_env.sleep(1),
    )
    # Never more chatter in front of the members than the window; every post was decided or
    # went to the room's overflow record.
    assert max(seen) <= policy.chatter_window, seen
    assert room.undelivered == 0
