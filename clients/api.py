"""Typed helpers to create personas and start, signal, update and query their workflows.

Every refusal is a :class:`PersonaError` with a one-line message; pydantic validates input
here, before anything reaches a workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.persona_start import AI_KIND, PersonaDocument, signal_with_start, start_life
from activities.store import PersonaRecord, Store, StoreError, UnknownEntity, UnknownPersona
from personas import messages
from personas.bounds import WORD_CHARS
from personas.coordination import FloorPolicy
from personas.errors import all_errors
from personas.ids import persona_workflow_id, room_workflow_id
from personas.items import (
    MAX_MENTIONS,
    MAX_TOPICS,
    ContentRefused,
    Dependency,
    InboxItem,
    item_kind,
)
from personas.life import (
    DeliveryReceipt,
    InboxView,
    LifeConfig,
    LifeStats,
    PersonaView,
)
from personas.models import AIPersonaProfile, check_access_scope, keywords
from personas.parts import ContentPart, TextPart
from personas.priority import mentions_in
from personas.rooms import MAX_MEMBERS, RoomInput, RoomView
from runtime.updates import execute_update_once
from workflows.common import failure_cause
from workflows.persona_life import PersonaLife
from workflows.room_coordinator import RoomCoordinator

ERROR_CHARS = 300
"""The longest a refusal's message is: whatever it quotes, it stays one short line."""


def one_line(text: str, limit: int = ERROR_CHARS) -> str:
    """``text`` on one line (whitespace runs collapsed), at most ``limit`` characters, and
    encodable (a lone surrogate is escaped)."""
    flat = " ".join(str(text).split())
    flat = flat.encode("utf-8", "backslashreplace").decode("utf-8")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class PersonaError(Exception):
    """A refusal the user can act on; its message is one bounded line."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))


def explain(err: ValidationError) -> str:
    """A pydantic validation error as one line."""
    return all_errors(err)


#: The most personas one broadcast (:meth:`PersonaClient.post_to_many`) reaches.
MAX_RECIPIENTS = 10_000
#: Signal-with-starts a broadcast has in flight at once, by default and at most.
START_CONCURRENCY = 64
MAX_START_CONCURRENCY = 512

#: Seconds between looks at a persona's inbox while it drains before a stop.
DRAIN_POLL_S = 0.5


@contextlib.contextmanager
def refusals(what: str) -> Iterator[None]:
    """Turn whatever refuses a message on its way to a workflow (a value that cannot be
    encoded, a payload the server will not take, an update's validator) into one
    :class:`PersonaError` line; a missing workflow is reported by the caller."""
    try:
        yield
    except PersonaError:
        raise
    except (WorkflowUpdateFailedError, WorkflowFailureError) as err:
        raise PersonaError(failure_cause(err.cause or err)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise
        raise PersonaError(f"{what} refused by the server: {err.message}") from None
    except ValidationError as err:
        raise PersonaError(f"{what}: {explain(err)}") from None
    except (PydanticSerializationError, UnicodeError, TypeError, ValueError, RecursionError) as err:
        raise PersonaError(f"{what} cannot be sent: {err}") from None


#: How long one query may wait for its answer before it is asked again.
QUERY_TIMEOUT = timedelta(seconds=5)
_QUERY_ATTEMPTS = 4


async def query_live(handle: WorkflowHandle[Any, Any], query: Any, *args: Any) -> Any:
    """Query a long-running workflow, asking again when no answer comes in time.

    A query that reaches a run just as it continues as new can go unanswered; asking again
    reaches the new run.
    """
    for _ in range(_QUERY_ATTEMPTS - 1):
        try:
            return await handle.query(query, *args, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise
    return await handle.query(query, *args, rpc_timeout=QUERY_TIMEOUT)


def named(record: PersonaRecord) -> str:
    """How messages name a persona: its name, then its id."""
    return f"{record.name} ({record.persona_id})"


def _raise_not_found(err: RPCError, message: str) -> NoReturn:
    """Turn the server's NOT_FOUND into a :class:`PersonaError`; re-raise anything else."""
    if err.status == RPCStatusCode.NOT_FOUND:
        raise PersonaError(message) from None
    raise err


class ServiceClient:
    """A base for the typed APIs: a Temporal client, the store and the task queue."""

    def __init__(self, client: Client, store: Store, task_queue: str) -> None:
        """Use ``client`` (with the pydantic converter), ``store`` and ``task_queue``."""
        self.client = client
        self.store = store
        self.task_queue = task_queue

    async def _entity_permits(self, entity_id: str) -> set[str]:
        """The resources ``entity_id`` permits; an unknown entity is refused as the store
        words it."""
        try:
            return await asyncio.to_thread(self.store.permitted_resources, entity_id)
        except UnknownEntity as err:
            raise PersonaError(str(err)) from None


class PersonaClient(ServiceClient):
    """The operations a user performs on AI personas and rooms."""

    # ------------------------------------------------------------ personas in the store
    async def _validated(self, profile: dict[str, Any] | AIPersonaProfile) -> AIPersonaProfile:
        """A valid profile whose access scope the entity permits, or a clear error."""
        try:
            valid = AIPersonaProfile.model_validate(profile)
        except ValidationError as err:
            raise PersonaError(f"invalid persona: {explain(err)}") from None
        try:
            permitted = await asyncio.to_thread(self.store.permitted_resources, valid.entity_id)
        except UnknownEntity:
            raise PersonaError(f"unknown entity {valid.entity_id}") from None
        try:
            check_access_scope(valid, permitted)
        except ValueError as err:
            raise PersonaError(str(err)) from None
        return valid

    async def create_persona(
        self,
        profile: dict[str, Any] | AIPersonaProfile,
        created_by: str,
        life: LifeConfig | None = None,
    ) -> PersonaRecord:
        """Validate and store a new persona; its access scope must be permitted."""
        valid = await self._validated(profile)
        document = PersonaDocument(profile=valid, life=life or LifeConfig())
        try:
            existing = await asyncio.to_thread(
                self.store.find_persona_by_name, valid.entity_id, valid.name
            )
        except UnknownPersona:
            pass
        else:
            raise PersonaError(
                f"entity {valid.entity_id} already has a persona named {valid.name!r}: "
                f"{named(existing)}, version {existing.version}, {existing.life_status}; "
                "use it, or choose another name"
            )
        try:
            return await asyncio.to_thread(
                lambda: self.store.create_persona(
                    kind=AI_KIND,
                    persona_id=str(valid.persona_id),
                    entity_id=valid.entity_id,
                    name=valid.name,
                    body=document.model_dump(mode="json"),
                    created_by=created_by,
                )
            )
        except StoreError as err:
            raise PersonaError(str(err)) from None

    async def update_persona(
        self, persona_id: str, changes: dict[str, Any], updated_by: str
    ) -> PersonaRecord:
        """Store a new version with ``changes``; a life uses it from its next start."""
        record = await self.persona(persona_id)
        fixed = sorted({"persona_id", "entity_id", "name"} & changes.keys())
        if fixed:
            raise PersonaError(f"cannot change {', '.join(fixed)}; create a new persona instead")
        document = PersonaDocument.model_validate(record.body)
        valid = await self._validated(document.profile.model_dump() | changes)
        body = PersonaDocument(profile=valid, life=document.life).model_dump(mode="json")
        return await asyncio.to_thread(self.store.update_persona, persona_id, body, updated_by)

    async def persona(self, persona_id: str) -> PersonaRecord:
        """The latest version of a persona, or a clear error."""
        try:
            return await asyncio.to_thread(self.store.get_persona, persona_id)
        except UnknownPersona:
            raise PersonaError(f"unknown persona {persona_id}") from None

    async def list_personas(self, entity_id: str | None = None) -> list[PersonaRecord]:
        """AI personas, optionally of one entity."""
        return await asyncio.to_thread(self.store.list_personas, AI_KIND, entity_id)

    # ------------------------------------------------------------ lives
    def _handle(self, persona_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(persona_workflow_id(persona_id))

    async def start_life(self, persona_id: str) -> str:
        """Start a persona's life (no-op when it is already running); returns its workflow id."""
        record = await self.persona(persona_id)
        workflow_id = await start_life(self.client, self.task_queue, record)
        await asyncio.to_thread(self.store.set_life_status, persona_id, "live")
        await asyncio.to_thread(self.store.record_usage, persona_id, record.version)
        return workflow_id

    async def queued_work(self, persona_id: str) -> tuple[int, int]:
        """(waiting, held) items of a running persona: what a stop would shed."""
        view = await self.view(persona_id)
        return view.inbox_size, view.held

    async def drain(self, persona_id: str, timeout_s: float = 600.0) -> None:
        """Wait until a running persona has no waiting or held items (or refuse after
        ``timeout_s``), so that a stop sheds nothing."""
        record = await self.persona(persona_id)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await self.queued_work(persona_id) != (0, 0):
            if asyncio.get_running_loop().time() > deadline:
                waiting, held = await self.queued_work(persona_id)
                raise PersonaError(
                    f"persona {named(record)} still has {waiting} waiting and {held} held "
                    f"item(s) after {timeout_s:g}s; not stopped"
                )
            await asyncio.sleep(DRAIN_POLL_S)

    async def stop_life(self, persona_id: str) -> LifeStats:
        """Stop a persona's life and wait for it to end; returns its final counters. Items
        still waiting go to the overflow record with reason ``stopped``."""
        record = await self.persona(persona_id)
        handle = self.client.get_workflow_handle_for(
            PersonaLife.run, persona_workflow_id(persona_id)
        )
        try:
            await handle.signal(PersonaLife.stop)
            stats = await handle.result()
        except RPCError as err:
            _raise_not_found(err, f"persona {named(record)} is not running")
        except WorkflowFailureError as err:
            raise PersonaError(
                f"persona {named(record)} ended with a failure: {err.cause}"
            ) from None
        await asyncio.to_thread(self.store.set_life_status, persona_id, "stopped")
        return stats

    async def _mentions(self, text: str, entity_id: str | None) -> tuple[str, ...]:
        """The entity's personas the text mentions as ``@Name`` (a bare name is no mention)."""
        if "@" not in text:  # no mention possible: the names are not read at all
            return ()
        known = await asyncio.to_thread(self.store.persona_names, AI_KIND, entity_id)
        return mentions_in(text, known)[:MAX_MENTIONS]

    async def _item(
        self,
        text: str,
        sender_id: str,
        *,
        human: bool,
        priority: float,
        kind: str,
        room_id: str | None = None,
        task_key: str | None = None,
        waits_for: list[dict[str, str]] | None = None,
        entity_id: str | None = None,
        parts: Sequence[ContentPart] = (),
    ) -> InboxItem:
        """An item of ``kind`` whose content, stored, is ``text`` then ``parts``."""
        try:
            item = InboxItem(
                item_id=uuid.uuid4().hex,
                kind=kind,
                sender_id=sender_id,
                sender_is_human=human,
                room_id=room_id,
                mentions=await self._mentions(text, entity_id),
                topics=tuple(w for w in keywords(text) if len(w) <= WORD_CHARS)[:MAX_TOPICS],
                priority=priority,
                sent_at=datetime.now(UTC),
                task_key=task_key,
                waits_for=tuple(Dependency.model_validate(d) for d in waits_for or []),
            )
            content = (TextPart(text=text), *parts) if text or not parts else tuple(parts)
            item_kind(kind).check(content)
        except ValidationError as err:
            raise PersonaError(f"invalid message: {explain(err)}") from None
        except ContentRefused as err:
            raise PersonaError(f"invalid message: {err}") from None
        ref = await asyncio.to_thread(partial(self.store.put_content, kind, parts=content))
        return item.model_copy(update={"content_ref": ref})

    async def post_to_persona(
        self,
        persona_id: str,
        text: str,
        sender_id: str,
        *,
        human: bool = True,
        priority: float = 0.0,
        kind: str = "chat",
        task_key: str | None = None,
        waits_for: list[dict[str, str]] | None = None,
        parts: Sequence[ContentPart] = (),
    ) -> InboxItem:
        """Deliver a message to a persona, waking its life if it is not running.

        Its content is ``text`` (when not empty) followed by ``parts``: JSON values, blob
        references; the item's ``kind`` says which parts it takes and how many.
        """
        record = await self.persona(persona_id)
        if record.life_status == "stopped":
            raise PersonaError(
                f"persona {named(record)} is stopped; start it with 'personas start {record.name}'"
            )
        item = await self._item(
            text,
            sender_id,
            human=human,
            priority=priority,
            kind=kind,
            task_key=task_key,
            waits_for=waits_for,
            entity_id=record.entity_id,
            parts=parts,
        )
        await signal_with_start(self.client, self.task_queue, record, messages.DELIVER, item)
        if record.life_status != "live":
            await asyncio.to_thread(self.store.set_life_status, persona_id, "live")
        return item

    async def post_to_many(
        self,
        persona_ids: Sequence[str],
        text: str,
        sender_id: str,
        *,
        human: bool = True,
        priority: float = 0.0,
        concurrency: int = START_CONCURRENCY,
    ) -> dict[str, InboxItem]:
        """Deliver one message to each of many personas (a broadcast), waking the lives that
        are not running; the item each was sent, by persona id.

        What :meth:`post_to_persona` does once per persona is done once for all of them: the
        records are read in one query, the content is stored once per entity (the items share
        it), the life statuses are set in one statement, and the signal-with-starts run
        ``concurrency`` at a time. Unknown or stopped personas are refused before anything is
        sent; at most :data:`MAX_RECIPIENTS` personas per call.
        """
        ids = list(dict.fromkeys(persona_ids))
        if len(ids) > MAX_RECIPIENTS:
            raise PersonaError(f"{len(ids)} recipients; at most {MAX_RECIPIENTS} per broadcast")
        if not 1 <= concurrency <= MAX_START_CONCURRENCY:
            raise PersonaError(f"concurrency {concurrency} is outside 1..{MAX_START_CONCURRENCY}")
        records = await asyncio.to_thread(self.store.get_latest_personas, ids)
        missing = [pid for pid in ids if pid not in records]
        stopped = [pid for pid in ids if pid in records and records[pid].life_status == "stopped"]
        if missing or stopped:
            which = ", ".join((missing or stopped)[:5])
            raise PersonaError(
                f"{'unknown' if missing else 'stopped'} persona(s) {which}"
                f"{' ...' if len(missing or stopped) > 5 else ''}; nothing sent"
            )
        shared: dict[str, InboxItem] = {}
        for entity_id in sorted({r.entity_id for r in records.values()}):
            shared[entity_id] = await self._item(
                text, sender_id, human=human, priority=priority, kind="chat", entity_id=entity_id
            )
        items = {
            pid: shared[records[pid].entity_id].model_copy(update={"item_id": uuid.uuid4().hex})
            for pid in ids
        }
        gate = asyncio.Semaphore(concurrency)
        woken: list[str] = []

        async def send(pid: str) -> None:
            async with gate:
                with refusals(f"message to persona {named(records[pid])}"):
                    await signal_with_start(
                        self.client, self.task_queue, records[pid], messages.DELIVER, items[pid]
                    )
            if records[pid].life_status != "live":
                woken.append(pid)

        try:
            await asyncio.gather(*(send(pid) for pid in ids))
        finally:  # the lives that did start are live, whatever happened to the others
            await asyncio.to_thread(self.store.set_life_statuses, woken, "live")
        return items

    async def post_checked(self, persona_id: str, item: InboxItem) -> DeliveryReceipt:
        """Deliver an item through the validated update and return the receipt."""
        record = await self.persona(persona_id)
        return await self._update(record, PersonaLife.post, item)

    async def _update(self, record: PersonaRecord, update: Any, arg: Any) -> Any:
        """Execute an update once (one update id, sent again across a continue-as-new)."""
        handle = self._handle(record.persona_id)
        try:
            with refusals(f"update of persona {named(record)}"):
                return await execute_update_once(handle, update, arg)
        except RPCError as err:
            _raise_not_found(err, f"persona {named(record)} is not running")

    async def trigger(self, persona_id: str, event: str) -> str:
        """Fire an activation or deactivation event; returns ``live`` or ``paused``.

        An activation event starts the persona's life when it is not running.
        """
        record = await self.persona(persona_id)
        profile = PersonaDocument.model_validate(record.body).profile
        known = sorted({*profile.activation_triggers, *profile.deactivation_triggers})
        if event not in known:
            raise PersonaError(
                f"unknown trigger {event!r} for persona {named(record)}; it knows "
                f"{', '.join(known) or 'none'}"
            )
        if event in profile.activation_triggers:
            await self.start_life(persona_id)
        return str(await self._update(record, PersonaLife.fire_trigger, event))

    async def set_compute_budget(self, persona_id: str, fraction: float) -> float:
        """Set the remaining compute budget of a persona (a fraction in [0, 1])."""
        record = await self.persona(persona_id)
        return float(await self._update(record, PersonaLife.set_compute_budget, fraction))

    async def view(self, persona_id: str) -> PersonaView:
        """State, mood and counters of a persona's life."""
        record = await self.persona(persona_id)
        try:
            view: PersonaView = await query_live(self._handle(persona_id), PersonaLife.view)
            return view
        except RPCError as err:
            _raise_not_found(err, f"persona {named(record)} has no life yet")

    async def inbox(self, persona_id: str, n: int = 10) -> list[InboxView]:
        """The next ``n`` items a persona will take."""
        record = await self.persona(persona_id)
        try:
            top: list[InboxView] = await query_live(
                self._handle(persona_id), PersonaLife.inbox_top, n
            )
            return top
        except RPCError as err:
            _raise_not_found(err, f"persona {named(record)} has no life yet")

    # ------------------------------------------------------------ rooms
    async def create_room(
        self, room_id: str, members: list[str], policy: FloorPolicy | None = None
    ) -> str:
        """Start a room's coordinator with these member personas."""
        for member in members:
            await self.persona(member)
        try:
            room = RoomInput(room_id=room_id, members=members, policy=policy or FloorPolicy())
        except ValidationError as err:
            raise PersonaError(f"invalid room: {explain(err)}") from None
        handle = await self.client.start_workflow(
            RoomCoordinator.run,
            room,
            id=room_workflow_id(room_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            memo={"members": list(room.members)},
        )
        return handle.id

    async def post_to_room(
        self,
        room_id: str,
        text: str,
        sender_id: str,
        *,
        human: bool = True,
        priority: float = 0.0,
    ) -> InboxItem:
        """Post a message to a room; its members hear it and the coordinator picks responders.

        Members the post @mentions are signalled directly as well, beside the post, so a
        mention does not wait for the room (whose delivery is then a duplicate they ignore).
        """
        handle = self.client.get_workflow_handle(room_workflow_id(room_id))
        # The room's roster is read while the item is built, when the text may mention someone.
        roster = asyncio.ensure_future(self._roster(handle)) if "@" in text else None
        try:
            item = await self._item(
                text, sender_id, human=human, priority=priority, kind="chat", room_id=room_id
            )
        except BaseException:
            if roster is not None:
                roster.cancel()
                with contextlib.suppress(BaseException):
                    await roster
            raise

        async def direct() -> None:
            if roster is None:
                return
            names = {m.lower() for m in item.mentions}
            for name, record in await roster:
                if name.lower() in names and record.persona_id != item.sender_id:
                    await signal_with_start(
                        self.client, self.task_queue, record, messages.DELIVER, item
                    )

        try:
            await asyncio.gather(handle.signal(RoomCoordinator.post, item), direct())
        except RPCError as err:
            _raise_not_found(err, f"no room {room_id}; create it first")
        return item

    async def _roster(self, handle: WorkflowHandle[Any, Any]) -> list[tuple[str, PersonaRecord]]:
        """The room's members that are not stopped, with their names (from the room's memo)."""
        members: list[Any] = await (await handle.describe()).memo_value(
            "members", [], type_hint=list
        )

        def records() -> list[tuple[str, PersonaRecord]]:
            latest = self.store.get_latest_personas(str(m) for m in members[:MAX_MEMBERS])
            return [
                (PersonaDocument.model_validate(record.body).profile.name, record)
                for record in latest.values()
                if record.life_status != "stopped"
            ]

        return await asyncio.to_thread(records)

    async def room(self, room_id: str) -> RoomView:
        """A room's members, open floors and grants."""
        try:
            return await self.client.get_workflow_handle(room_workflow_id(room_id)).query(
                RoomCoordinator.view
            )
        except RPCError as err:
            _raise_not_found(err, f"no room {room_id}; create it first")
