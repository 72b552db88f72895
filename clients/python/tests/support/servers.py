"""Real HTTP servers on loopback for the apps under test: uvicorn (ASGI) and werkzeug (WSGI), each in a thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@contextmanager
def serve_asgi(app: Any) -> Iterator[int]:
    """Serves ``app`` with uvicorn on 127.0.0.1; yields the port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", access_log=False, interface="asgi3")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.002)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        t.join(10)


@contextmanager
def serve_wsgi(app: Any) -> Iterator[int]:
    """Serves ``app`` with werkzeug's threaded server on 127.0.0.1; yields the port."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    try:
        yield srv.port
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)


class Switch:
    """An ASGI and WSGI app that forwards to ``self.app``, so one server serves app after app."""

    def __init__(self) -> None:
        self.app: Any = None

    async def asgi(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        await self.app(scope, receive, send)

    def wsgi(self, environ: Any, start_response: Any) -> Any:
        """WSGI entry point."""
        return self.app(environ, start_response)
