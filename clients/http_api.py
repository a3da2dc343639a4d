"""The persona operations through the REST API (``personas --api URL``): the same methods and
models as :class:`clients.api.PersonaClient`, over HTTP with a bearer key instead of the
store's credentials. A refusal is a :class:`PersonaError` carrying the problem's one line."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import TypeAdapter

from activities.store import PersonaRecord
from clients.api import PersonaError
from personas.items import InboxItem
from personas.life import InboxView, LifeStats, PersonaView

TIMEOUT_S = 60.0


class ApiRefused(PersonaError):
    """A problem the API answered with; ``status`` is its HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


_INBOX = TypeAdapter(list[InboxView])


class HttpPersonaClient:
    """AI personas through ``base_url`` with the API key ``key``."""

    def __init__(self, base_url: str, key: str, transport: httpx.AsyncBaseTransport | None = None):
        if not key:
            raise PersonaError("--api needs an API key: set PERSONAS_API_KEY or pass --api-key")
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            r = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            raise PersonaError(f"the API at {self.http.base_url} is unreachable: {err}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail") or r.reason_phrase
            except ValueError:
                detail = r.text or r.reason_phrase
            raise ApiRefused(r.status_code, str(detail))
        return r.json()

    async def resolve(self, ref: str) -> str:
        """The id of the persona whose id or name (among the key's entity's) is ``ref``."""
        try:
            return (await self.persona(ref)).persona_id
        except ApiRefused as err:
            if err.status != 404:
                raise
        matches = [r for r in await self.list_personas() if r.name.lower() == ref.lower()]
        if len(matches) != 1:
            which = "no persona has this id or name" if not matches else "ambiguous; use the id"
            raise PersonaError(f"unknown persona {ref!r}: {which}")
        return matches[0].persona_id

    async def create_persona(self, profile: dict[str, Any], created_by: str) -> PersonaRecord:
        """Create an AI persona (the API records the key as its creator)."""
        return PersonaRecord.model_validate(await self._call("POST", "/v1/personas", json=profile))

    async def list_personas(self, entity_id: str | None = None) -> list[PersonaRecord]:
        """Every page of the key's AI personas (optionally of one entity)."""
        records: list[PersonaRecord] = []
        params: dict[str, Any] = {"limit": 200} | ({"entity_id": entity_id} if entity_id else {})
        while True:
            page = await self._call("GET", "/v1/personas", params=params)
            records += [PersonaRecord.model_validate(p) for p in page["items"]]
            if not page.get("next_cursor"):
                return records
            params["cursor"] = page["next_cursor"]

    async def persona(self, persona_id: str) -> PersonaRecord:
        """The persona's latest version."""
        return PersonaRecord.model_validate(await self._call("GET", f"/v1/personas/{persona_id}"))

    async def start_life(self, persona_id: str) -> str:
        """Start its life; its workflow id."""
        return str((await self._call("POST", f"/v1/personas/{persona_id}/start"))["workflow_id"])

    async def stop_life(self, persona_id: str) -> LifeStats:
        """Stop its life; its final counters."""
        return LifeStats.model_validate(await self._call("POST", f"/v1/personas/{persona_id}/stop"))

    async def post_to_persona(
        self, persona_id: str, text: str, sender_id: str, **fields: Any
    ) -> InboxItem:
        """Deliver a message."""
        body = {"text": text, "sender_id": sender_id} | {
            k: v for k, v in fields.items() if v is not None
        }
        body["parts"] = [p.model_dump(mode="json") for p in body.get("parts", [])]
        return InboxItem.model_validate(
            await self._call("POST", f"/v1/personas/{persona_id}/messages", json=body)
        )

    async def view(self, persona_id: str) -> PersonaView:
        """State, mood and counters."""
        return PersonaView.model_validate(
            await self._call("GET", f"/v1/personas/{persona_id}/state")
        )

    async def inbox(self, persona_id: str, n: int = 10) -> list[InboxView]:
        """The next ``n`` items."""
        got = await self._call("GET", f"/v1/personas/{persona_id}/inbox", params={"n": n})
        return _INBOX.validate_python(got)

    async def trigger(self, persona_id: str, event: str) -> str:
        """Fire an event; ``live`` or ``paused``."""
        got = await self._call("POST", f"/v1/personas/{persona_id}/triggers/{event}")
        return str(got["life"])
