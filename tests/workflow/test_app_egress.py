"""Brokered egress on the dev server and a real Docker engine: the container has no network
(``network_mode=none``), its socat forwarder reaches the host proxy's Unix socket, the proxy
lets through only the allowlist; a persona without egress has no proxy and reaches nothing."""

from __future__ import annotations

import uuid

import docker
from temporalio.testing import WorkflowEnvironment

from activities.app.settings import AppSettings
from activities.store import Store
from tests.workflow.app_support import EGRESS_ROOT, Rig, app_rig, fetcher, leaks


async def sh(rig: Rig, sid: str, token: str, script: str) -> tuple[int, str]:
    out = await rig.run(sid, token, ["sh", "-c", script])
    return out.result.exit_code, out.result.output


async def test_egress_only_to_the_allowlist_through_the_proxy(
    rig: Rig, sqlite_store: Store, origin: tuple[int, list[bytes]]
) -> None:
    port, heads = origin
    token = await rig.granted("alice", fetcher(port))
    view = await rig.request("fetcher", token)
    sid = view.session_id
    assert view.egress
    assert view.steps == [
        "validate", "place", "reserve", "image", "egress",
        "create", "configure", "start", "health",
    ]  # fmt: skip
    attrs = docker.from_env().containers.get(f"persona-app-{sid}").attrs
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert (await sh(rig, sid, token, "ls /sys/class/net"))[1].split() == ["lo"]
    assert (await sh(rig, sid, token, "echo $HTTPS_PROXY"))[1] == "http://127.0.0.1:3128\n"
    code, text = await sh(rig, sid, token, f"wget -q -O - http://127.0.0.1:{port}/hello")
    assert (code, text) == (0, "from-origin\n")
    assert heads[-1].startswith(b"GET /hello HTTP/1.1\r\n")
    connect = f"CONNECT 127.0.0.1:{port} HTTP/1.1\\r\\n\\r\\nGET /tunnel HTTP/1.0\\r\\n\\r\\n"
    code, text = await sh(rig, sid, token, f"printf '{connect}' | nc 127.0.0.1 3128")
    assert text.startswith("HTTP/1.1 200 Connection established")
    assert text.endswith("from-origin\n")
    assert heads[-1].startswith(b"GET /tunnel HTTP/1.0\r\n")
    other = port + 1 if port < 65535 else port - 1
    code, text = await sh(rig, sid, token, f"wget -q -O - http://127.0.0.1:{other}/")
    assert code != 0
    assert "403 Forbidden" in text
    code, text = await sh(rig, sid, token, "wget -q -O - http://example.com/")
    assert "403 Forbidden" in text
    denied = "CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n"
    assert (
        "403 Forbidden" in (await sh(rig, sid, token, f"printf '{denied}' | nc 127.0.0.1 3128"))[1]
    )
    assert len(heads) == 2
    usage = await rig.usage(sid, token)
    assert (usage.egress_allowed, usage.egress_refused) == (2, 3)
    assert leaks(sqlite_store, {sid}).proxies == {sid}
    final = await rig.release(sid, token)
    assert final.compensated == ["app_remove", "app_egress_stop", "app_release", "app_end"]
    assert leaks(sqlite_store, {sid}).total() == 0


async def test_without_egress_no_proxy_and_no_network(
    rig: Rig, sqlite_store: Store, origin: tuple[int, list[bytes]]
) -> None:
    port, heads = origin
    token = await rig.code_reviewer_for("alice")
    view = await rig.request("code-reviewer", token)
    sid = view.session_id
    assert not view.egress
    assert "egress" not in view.steps
    assert not (EGRESS_ROOT / sid).exists()
    assert (await sh(rig, sid, token, "echo ${HTTP_PROXY:-none}"))[1] == "none\n"
    assert (await sh(rig, sid, token, "ls /run/egress"))[0] != 0
    for target in (f"127.0.0.1:{port}", "127.0.0.1:3128", "172.17.0.1:80", "1.1.1.1:80"):
        code, text = await sh(rig, sid, token, f"wget -q -T 3 -O - http://{target}/")
        assert code != 0, text
        code, _ = await sh(rig, sid, token, f"nc -w 3 {target.replace(':', ' ')} </dev/null")
        assert code != 0
    assert heads == []
    await rig.release(sid, token)
    assert leaks(sqlite_store, {sid}).total() == 0


async def test_restarted_worker_serves_the_proxy_again(
    dev_env: WorkflowEnvironment,
    sqlite_store: Store,
    settings: AppSettings,
    origin: tuple[int, list[bytes]],
) -> None:
    port, heads = origin
    queue = f"app-{uuid.uuid4().hex[:8]}"
    async with app_rig(dev_env.client, sqlite_store, settings, queue=queue) as first:
        token = await first.granted("alice", fetcher(port))
        sid = (await first.request("fetcher", token)).session_id
        first.started.clear()  # stopping this worker (and its proxies) must not end the session
    async with app_rig(dev_env.client, sqlite_store, settings, queue=queue) as second:
        second.started.add(sid)
        code, text = await sh(second, sid, token, f"wget -q -O - http://127.0.0.1:{port}/again")
        assert (code, text) == (0, "from-origin\n")
        assert heads[-1].startswith(b"GET /again ")
        await second.release(sid, token)
        assert leaks(sqlite_store, {sid}).total() == 0
