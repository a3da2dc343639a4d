"""``personas-api``: serve the REST API with uvicorn on the settings' host and port."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from activities.store import Store
from api.app import create_app
from runtime.settings import Settings, get_settings
from runtime.temporal import connect


async def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Connect to Temporal, migrate the store and serve until stopped."""
    client = await connect(settings)
    store = Store(settings.resolved_database_url())
    await asyncio.to_thread(store.migrate)
    try:
        app = create_app(settings, client, store)
        config = uvicorn.Config(
            app,
            host=host or settings.api_host,
            port=port or settings.api_port,
            log_level="info",
            timeout_keep_alive=30,
            backlog=1024,
        )
        await uvicorn.Server(config).serve()
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
