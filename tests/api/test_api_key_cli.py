"""``personas api-key``: the bootstrap of the API's keys, store-only; the secret is printed
once and only its SHA-256 digest is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from activities.api_access.keys import ApiKeyStore, KeyRefused, digest_of
from clients.cli import run_async
from runtime.settings import Settings
from tests.helpers import cli_output, free_port


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return Settings(
        temporal_address=f"127.0.0.1:{free_port()}",
        state_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
    )


async def test_create_rotate_revoke_and_list(
    offline: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async def ok(*argv: str) -> str:
        return await cli_output(capsys, offline, *argv)

    created = json.loads(await ok("--json", "api-key", "create", "--entity", "acme"))
    admin = json.loads(await ok("--json", "api-key", "create", "--admin", "--label", "root"))
    assert created["secret"].startswith(f"pak_{created['key_id']}_")
    assert admin["admin"] is True
    assert admin["entity_id"] is None
    text_out = await ok("api-key", "create", "--entity", "acme")
    assert text_out.startswith("pak_")
    assert "shown this once" in text_out

    engine = create_engine(offline.database_url)
    with engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM rest_api_keys")))
    assert created["secret"] not in dump
    assert digest_of(created["secret"]) in dump
    keys = ApiKeyStore(engine)
    assert keys.verify(created["secret"]).entity_id == "acme"

    rotated = json.loads(
        await ok("--json", "api-key", "rotate", created["key_id"], "--overlap", "600")
    )
    assert keys.verify(created["secret"]).expires_at is not None  # still valid, for a while
    assert keys.verify(rotated["secret"]).entity_id == "acme"
    await ok("api-key", "revoke", rotated["key_id"])
    with pytest.raises(KeyRefused, match="was revoked"):
        keys.verify(rotated["secret"])
    listed = json.loads(await ok("--json", "api-key", "list", "--entity", "acme"))
    assert len(listed) == 3
    assert all("secret" not in k for k in listed)
    engine.dispose()


async def test_refusals_are_one_line(offline: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_async(["api-key", "revoke", "nope"], settings=offline) == 2
    assert capsys.readouterr().err.strip() == "error: unknown API key nope"
    assert await run_async(["api-key", "create", "--entity", "bad id!"], settings=offline) == 2
    assert "is not an identifier" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await run_async(["api-key", "create"], settings=offline)
