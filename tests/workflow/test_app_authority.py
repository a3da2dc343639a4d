"""Every management action needs credentials of the owning entity (or an administrator):
defining, granting, revoking, showing. Each refusal is tested; a revocation ends the user's
running session at once."""

from __future__ import annotations

import pytest

from activities.funding.db import Database
from activities.funding.keys import KeyStore
from activities.store import Store
from clients.api import PersonaError
from clients.app_api import AppClient
from tests.helpers import eventually
from tests.workflow.app_support import Rig, code_reviewer, leaks


def _persona_key(store: Store, entity: str, persona_id: str) -> str:
    """A live API key of a new AI persona of ``entity``."""
    store.upsert_entity(entity, entity.title())
    store.create_persona(
        kind="ai", persona_id=persona_id, entity_id=entity, name=persona_id, body={}, created_by="t"
    )
    return KeyStore(Database(store.engine)).issue(persona_id).secret


def _plain(rig: Rig) -> AppClient:
    """A client holding no credentials of its own."""
    return AppClient(rig.client, rig.store, rig.task_queue, rig.settings)


async def test_defining_and_granting_need_the_entitys_credentials(rig: Rig) -> None:
    app = _plain(rig)
    acme = _persona_key(rig.store, "acme", "acme-bot")
    globex = _persona_key(rig.store, "globex", "globex-bot")
    with pytest.raises(PersonaError, match="defining code-reviewer needs credentials"):
        await app.define("acme", "x", None, **code_reviewer())
    with pytest.raises(PersonaError, match="is not one of entity acme"):
        await app.define("acme", "x", globex, **code_reviewer())
    with pytest.raises(PersonaError, match="unknown administrator secret"):
        await app.define("acme", "x", "adm_forged", **code_reviewer())
    with pytest.raises(PersonaError, match="malformed credentials"):
        await app.define("acme", "x", "x" * 100_000, **code_reviewer())
    saved = await app.define("acme", "x", acme, **code_reviewer())
    assert saved.version == 1
    with pytest.raises(PersonaError, match="belongs to entity acme, not globex"):
        await app.define("globex", "x", globex, **code_reviewer())  # no taking it over
    with pytest.raises(PersonaError, match="granting code-reviewer needs credentials"):
        await app.grant("code-reviewer", "mallory")
    with pytest.raises(PersonaError, match="is not one of entity acme"):
        await app.grant("code-reviewer", "mallory", globex)
    await app.grant("code-reviewer", "alice", acme)
    await app.grant("code-reviewer", "bob", rig.admin)
    assert rig.repo.is_granted("code-reviewer", "alice")
    assert not rig.repo.is_granted("code-reviewer", "mallory")
    KeyStore(Database(rig.store.engine)).revoke(acme.split("_")[1])
    with pytest.raises(PersonaError, match="was revoked"):
        await app.grant("code-reviewer", "mallory", acme)


async def test_showing_a_session_needs_its_users_token_or_credentials(rig: Rig) -> None:
    app = _plain(rig)
    globex = _persona_key(rig.store, "globex", "globex-bot")
    token = await rig.code_reviewer_for("alice")
    sid = (await rig.request("code-reviewer", token)).session_id
    with pytest.raises(PersonaError, match="needs the user's token"):
        await app.view(sid)
    with pytest.raises(PersonaError, match="is not yours"):
        await app.view(sid, token=rig.token("bob"))
    with pytest.raises(PersonaError, match="bad signature"):
        await app.view(sid, token=token[:-4] + "AAAA")
    with pytest.raises(PersonaError, match="is not one of entity acme"):
        await app.view(sid, credential=globex)
    assert (await app.view(sid, token=token)).state == "running"
    assert (await app.view(sid, credential=rig.admin)).user_id == "alice"


async def test_revocation_ends_the_running_session_at_once(rig: Rig) -> None:
    app = _plain(rig)
    token = await rig.code_reviewer_for("alice")
    sid = (await rig.request("code-reviewer", token)).session_id
    assert (await rig.run(sid, token, ["true"])).result.exit_code == 0
    with pytest.raises(PersonaError, match="revoking code-reviewer needs credentials"):
        await app.revoke("code-reviewer", "alice")
    assert await app.revoke("code-reviewer", "alice", rig.admin) == [sid]
    with pytest.raises(PersonaError, match=r"may no longer use|not running"):
        await rig.run(sid, token, ["true"])
    final = await eventually(lambda: rig.view(sid), lambda v: v.ended)
    assert final.state == "revoked"
    assert leaks(rig.store, {sid}).total() == 0
    record = rig.repo.session(sid)
    assert record is not None
    assert record.state == "revoked"
    with pytest.raises(PersonaError, match="may not use persona code-reviewer"):
        await rig.request("code-reviewer", token)


async def test_a_command_checks_the_grant_even_without_the_revocation_notice(rig: Rig) -> None:
    token = await rig.code_reviewer_for("alice")
    sid = (await rig.request("code-reviewer", token)).session_id
    rig.repo.revoke("code-reviewer", "alice")  # the store only: no notice reaches the session
    with pytest.raises(PersonaError, match="user alice may no longer use persona code-reviewer"):
        await rig.run(sid, token, ["true"])
