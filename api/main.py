"""``personas-api``: serve the REST API with uvicorn on the settings' host and port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from temporalio.client import Client

from activities.app.settings import AppSettings
from activities.store import Store
from api.app import create_app
from runtime.settings import Settings, get_settings
from runtime.temporal import connect


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a process that handles its own signals (the demo): stopped by
    setting ``should_exit``, never by taking over SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the process's signal handlers alone."""
        yield


@contextlib.asynccontextmanager
async def serving(server: uvicorn.Server, sock: socket.socket) -> AsyncIterator[bool]:
    """``server`` serving on the bound ``sock`` for the duration (stopped at the end); yields
    whether it started."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.02)
        yield server.started
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


def api_server(
    settings: Settings,
    client: Client,
    store: Store,
    host: str | None = None,
    port: int | None = None,
    server: type[uvicorn.Server] = uvicorn.Server,
    app_settings: AppSettings | None = None,
) -> uvicorn.Server:
    """A uvicorn ``server`` of the API over ``client`` and a migrated ``store`` on ``host`` and
    ``port`` (the settings' by default); ``serve()`` it."""
    config = uvicorn.Config(
        create_app(settings, client, store, app_settings=app_settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="info",
        timeout_keep_alive=30,
        backlog=1024,
    )
    return server(config)


async def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Connect to Temporal, migrate the store and serve until stopped."""
    client = await connect(settings)
    store = Store(settings.resolved_database_url())
    await asyncio.to_thread(store.migrate)
    try:
        await api_server(settings, client, store, host, port).serve()
    finally:
        store.dispose()


def main(argv: list[str] | None = None) -> None:
    """The console entry point."""
    parser = argparse.ArgumentParser(prog="personas-api", description=__doc__)
    parser.add_argument("--host", help="listen address (PERSONAS_API_HOST)")
    parser.add_argument("--port", type=int, help="listen port (PERSONAS_API_PORT)")
    args = parser.parse_args(argv)
    asyncio.run(serve(get_settings(), args.host, args.port))


if __name__ == "__main__":
    main()
